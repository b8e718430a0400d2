"""pytester runs small user test suites against the installed meshsec plugin."""

pytest_plugins = ["pytester"]
