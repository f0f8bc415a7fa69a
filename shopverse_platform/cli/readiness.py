"""Readiness probes for the stack's services: a port, an HTTP page, Dagster's GraphQL API."""

from __future__ import annotations

import socket

from shopverse_platform.cli.supervisor import StackError

HOST = "127.0.0.1"


def port_open(port: int, host: str = HOST) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def port_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on ``host:port`` now: nothing else holds it. (Bound with
    SO_REUSEADDR, as the servers bind, so a port in TIME_WAIT after a stopped server counts free.)"""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def http_ok(url: str, contains: str | None = None) -> bool:
    import requests

    try:
        response = requests.get(url, timeout=5)
    except requests.RequestException:
        return False
    return response.ok and (contains is None or contains in response.text)


def graphql(base_url: str, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    import requests

    response = requests.post(f"{base_url}/graphql", json={"query": query, "variables": variables or {}}, timeout=timeout)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise StackError(f"GraphQL errors: {body['errors']}")
    return body["data"]


WORKSPACE_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
DAEMON_QUERY = "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"


def dagster_ready(base_url: str) -> bool:
    """The webserver answers and every code location has loaded; a load error is fatal."""
    if not http_ok(f"{base_url}/server_info"):
        return False
    entries = graphql(base_url, WORKSPACE_QUERY)["workspaceOrError"].get("locationEntries") or []
    for entry in entries:
        error = entry.get("locationOrLoadError") or {}
        if error.get("__typename") == "PythonError":
            raise StackError(f"code location {entry['name']} failed to load: {error['message'][:2000]}")
    return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


def daemons_healthy(base_url: str) -> bool:
    try:
        statuses = graphql(base_url, DAEMON_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
    except Exception:  # the webserver may not be up yet
        return False
    return all(s["healthy"] for s in statuses if s["required"])

