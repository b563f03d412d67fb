"""Benchmarks and load generators (`flexvpp bench ...`), kept out of the product packages.

- cli.py: the `flexvpp bench` command group; args.py: argument types the commands share.
- vtn_cli.py, vtn.py: `bench vtn`, our VTN against the stock openleadr server (stock_vtn.py),
  both started as subprocesses by servers.py on a fresh PostgreSQL database.
- load_cli.py, load.py: `bench load`, thousands of simulated VENs (load_ven.py) against our VTN.
- ven_cli.py, ven.py: `bench ven`, simulated homes (agent + devices) per machine.
- plan.py, portfolio.py: `bench plan` and `bench portfolio`, planning a generated portfolio
  (homes.py) of one day read from the shared public data (data.py) or made up.
"""
