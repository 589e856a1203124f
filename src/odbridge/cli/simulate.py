"""``odbridge simulate``: a local stand-in for the Open Dental API."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from odbridge.cli.common import console, fail, setup_logging
from odbridge.simulator.release import CURRENT_OD_VERSION

if TYPE_CHECKING:
    from odbridge.simulator.settings import SimulatorSettings

DEFAULT_SIM_PORT = 8780


def simulate_command(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_SIM_PORT,
    patients: Annotated[int, typer.Option(help="Patients in the synthetic practice.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same practice.")] = 1,
    developer_key: Annotated[
        str, typer.Option(envvar="ODBRIDGE_SIM_DEVELOPER_KEY", help="Developer key to accept.")
    ] = "devkey-sim",
    customer_key: Annotated[
        str, typer.Option(envvar="ODBRIDGE_SIM_CUSTOMER_KEY", help="Customer key to accept.")
    ] = "custkey-sim",
    disabled_key: Annotated[
        list[str] | None, typer.Option(help="A customer key that is disabled (repeatable).")
    ] = None,
    tier: Annotated[str, typer.Option(help="read-all | full | enterprise.")] = "read-all",
    mode: Annotated[
        str | None, typer.Option(help="remote | local | service (local/service: unthrottled).")
    ] = None,
    rate_interval: Annotated[
        float | None, typer.Option(help="Seconds between requests per key (default: tier's).")
    ] = None,
    page_limit: Annotated[
        int | None, typer.Option(help="Most rows per request (100 remote, 1000 local).")
    ] = None,
    throttle: Annotated[
        str, typer.Option(help="reject (429 + Retry-After) | delay (hold until the slot).")
    ] = "reject",
    faults: Annotated[
        str, typer.Option(help="e.g. 'econnector=0.05,error500=0.05,reset=0.02,seed=7'.")
    ] = "",
    accept_basic: Annotated[
        bool, typer.Option(help="Also accept HTTP Basic (not a documented scheme).")
    ] = False,
    changes_per_minute: Annotated[
        float, typer.Option(help="Random patient changes per minute (5 % are deletions).")
    ] = 0,
    od_version: Annotated[
        str,
        typer.Option(help="Open Dental release to behave as (before 21.4 Simple shows Deleted)."),
    ] = CURRENT_OD_VERSION,
    practices: Annotated[
        int, typer.Option(help="Practices served; customer keys become KEY-1 … KEY-N.")
    ] = 1,
) -> None:
    """Run a local stand-in for the Open Dental API with a synthetic practice."""
    from pydantic import SecretStr, ValidationError

    from odbridge.simulator.faults import FaultSettings, FaultSpecError, parse_fault_spec
    from odbridge.simulator.server import serve_forever
    from odbridge.simulator.settings import Mode, SimulatorSettings, ThrottleMode, Tier

    setup_logging()
    try:
        fault_settings = parse_fault_spec(faults) if faults else FaultSettings()
        settings = SimulatorSettings(
            host=host,
            port=port,
            patients=patients,
            seed=seed,
            developer_key=SecretStr(developer_key),
            customer_key=SecretStr(customer_key),
            disabled_customer_keys=[SecretStr(k) for k in disabled_key or []],
            tier=_choice(tier, Tier, "--tier"),
            mode=_choice(mode, Mode, "--mode") if mode else None,
            rate_interval=rate_interval,
            page_limit=page_limit,
            throttle=_choice(throttle, ThrottleMode, "--throttle"),
            accept_basic=accept_basic,
            faults=fault_settings,
            changes_per_minute=changes_per_minute,
            od_version=od_version,
            practices=practices,
        )
    except FaultSpecError as exc:
        raise fail(f"--faults: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise fail(
            f"--{'-'.join(map(str, first['loc'])).replace('_', '-')}: {first['msg']}"
        ) from None
    _print_listening(settings)
    serve_forever(settings)


def _choice(value: str, options: object, flag: str) -> str:
    allowed: tuple[str, ...] = getattr(options, "__args__", ())
    if value not in allowed:
        raise fail(f"{flag} must be one of {', '.join(allowed)}, not '{value}'")
    return value


def _print_listening(settings: SimulatorSettings) -> None:
    base = f"http://{settings.host}:{settings.port}/api/v1"
    pace = (
        f"1 request / {settings.interval:g} s per customer key ({settings.throttle} when early)"
        if settings.interval
        else "not throttled"
    )
    console.print(
        f"[bold]Open Dental simulator[/bold] ({settings.mode} mode, tier {settings.tier})"
    )
    console.print(f"  API base URL : {base}")
    console.print(f"  patients     : {settings.patients} (seed {settings.seed})")
    if settings.practices > 1:
        last = settings.practices
        console.print(
            f"  practices    : {last}, customer keys <key>-1 … <key>-{last}"
            f" (seeds {settings.seed} … {settings.seed + last - 1})"
        )
    console.print(f"  Open Dental  : {settings.od_version}")
    console.print(f"  page cap     : {settings.page_cap} rows; {pace}")
    console.print(f"  stats        : http://{settings.host}:{settings.port}/_simulator/stats")
    console.print("  auth         : Authorization: ODFHIR <developer key>/<customer key>")
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        console.print("[yellow]warning:[/yellow] listening beyond this machine (no TLS).")
    # plain lines (never wrapped), ready to paste into another terminal
    typer.echo("\nTry the CLI against it: paste these lines in another terminal", err=True)
    typer.echo(f"  {paste_settings(settings, base)}", err=True)
    typer.echo("  odbridge check && odbridge sync && odbridge status", err=True)


def paste_settings(settings: SimulatorSettings, base_url: str) -> str:
    """``export ODBRIDGE_...`` for a client of this simulator. A key the user chose is named
    by the variable it came from (or a placeholder), never printed; the built-in ones are."""
    first = "-1" if settings.practices > 1 else ""  # the first practice's customer key
    from odbridge.config import env_var

    keys = (
        ("developer_key", settings.developer_key.get_secret_value(), "devkey-sim", ""),
        ("customer_key", settings.customer_key.get_secret_value(), "custkey-sim", first),
    )
    values = [f"{env_var('base_url')}={base_url}"]
    for name, value, builtin, suffix in keys:
        source = f"ODBRIDGE_SIM_{name.upper()}"
        if value == builtin:
            shown = value + suffix
        elif os.environ.get(source) == value:
            shown = f'"${{{source}}}{suffix}"'
        else:
            shown = f"<your {name.replace('_', ' ')}>"
        values.append(f"{env_var(name)}={shown}")
    values += [f"{env_var('tier')}={settings.tier}", f"{env_var('mode')}={settings.mode}"]
    return "export " + " ".join(values)
