"""The search itself: config, strategies and pruning policy, warm start, assembly of a
search's parts, the driver loop, results and tables, and the :class:`Search` façade.
Never imports the notebook layer. (Not named ``search``: a subpackage of that name would
shadow the :func:`aimauto_nb.search` function.)"""
