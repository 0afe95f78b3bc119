"""One module per ``ddpm-edu`` sub-command (see ddpm_edu/cli.py for the interface)."""
