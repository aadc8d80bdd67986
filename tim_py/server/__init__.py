"""``tim-py serve``: the vendor's REST API over HTTP for a local world (docs/rest.md).

Needs aiohttp (``pip install 'tim_py[server]'``): ``app`` is the handler and its checks,
``serve`` the server's life (``serve.run``), ``dashboard`` the page at ``/`` and its live feed
(docs/dashboard.md; its files in ``static/``).  Importing this package alone imports none of them.
"""
