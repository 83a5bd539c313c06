"""The command line's commands, by concern (reconciler.cli is the group and the entry point).

Each module imports only click at its top, so `reconciler --help` starts fast; the library is
imported inside each command. The commands pick the view of what a use-case returns.
"""
