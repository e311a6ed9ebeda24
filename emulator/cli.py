"""``flask emulator run``: serve emulated Google and Microsoft until interrupted."""

from __future__ import annotations

import threading

import click

from emulator.servers import GOOGLE_HOST, MICROSOFT_HOST, RunningEmulators, start_emulators


def wait_forever() -> None:
    """Block until Ctrl-C (tests replace this)."""
    threading.Event().wait()


@click.group("emulator")
def emulator_cli() -> None:
    """Local stand-ins for Google and Microsoft (OAuth and calendar APIs)."""


@emulator_cli.command("run")
@click.option("--google-host", default=GOOGLE_HOST, show_default=True)
@click.option("--google-port", default=8002, show_default=True, type=int)
@click.option("--microsoft-host", default=MICROSOFT_HOST, show_default=True)
@click.option("--microsoft-port", default=8003, show_default=True, type=int)
@click.option("--auto-approve/--no-auto-approve", default=False, help="Skip the consent pages.")
def run(google_host: str, google_port: int, microsoft_host: str, microsoft_port: int, auto_approve: bool) -> None:
    """Serve both providers and print the settings that point the service at them."""
    running = start_emulators(google_host, google_port, microsoft_host, microsoft_port, quiet=False)
    try:
        _announce(running, auto_approve)
        wait_forever()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


def _announce(running: RunningEmulators, auto_approve: bool) -> None:
    running.google_state.settings.auto_approve = auto_approve
    running.microsoft_state.settings.auto_approve = auto_approve
    click.echo(f"# Google emulator:    {running.google_url}  (control API: {running.google_url}/__emulator__/)")
    click.echo(f"# Microsoft emulator: {running.microsoft_url}  (control API: {running.microsoft_url}/__emulator__/)")
    click.echo("# Settings for the service:")
    for name, value in running.settings().items():
        click.echo(f"{name}={value}")
    click.echo("# Press Ctrl-C to stop.")
