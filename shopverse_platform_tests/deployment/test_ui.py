"""The UIs of the production configuration, checked as a person would: Playwright for Python
driving Debian's Chromium (scripts/install_browser.sh). Screenshots go to
shopverse_platform_tests/artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from shopverse_platform.cli import readiness, stack
from shopverse_platform_tests.deployment.conftest import (
    ARTIFACTS,
    ProdRuns,
    ProdStack,
    instigators,
    wait_for_run,
)

pytestmark = pytest.mark.services

SHOTS = ARTIFACTS / "screenshots"
ASSET_NODES = "{ assetNodes { assetKey { path } groupName jobNames isPartitioned } }"
RECENT_RUNS = "{ runsOrError(limit: 20) { ... on Runs { results { runId status } } } }"


def expect(locator, message: str):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator, message)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def test_asset_graph_shows_every_layer(prod_stack: ProdStack, prod_runs: ProdRuns, page):
    layers = {n["groupName"] for n in readiness.graphql(prod_stack.web, ASSET_NODES)["assetNodes"]}
    page.goto(f"{prod_stack.web}/asset-groups")
    # Each layer (asset group) is a node of the global lineage graph, drawn in SVG.
    nodes = page.locator("svg foreignObject.group [data-tooltip]")
    nodes.first.wait_for()
    page.wait_for_timeout(1000)  # let the layout settle before the screenshot
    shown = {nodes.nth(i).get_attribute("data-tooltip") for i in range(nodes.count())}
    assert shown == layers
    assert len(layers) >= 6
    shot(page, "dagster_asset_graph")


def test_materialize_button_starts_a_run_that_succeeds(prod_stack: ProdStack, prod_runs: ProdRuns, page):
    nodes = readiness.graphql(prod_stack.web, ASSET_NODES)["assetNodes"]
    unpartitioned = sorted("/".join(n["assetKey"]["path"]) for n in nodes if "daily_job" in n["jobNames"] and not n["isPartitioned"])
    asset = "dim_products" if "dim_products" in unpartitioned else unpartitioned[0]
    page.goto(f"{prod_stack.web}/assets/{asset}")
    page.locator("button", has_text=re.compile(r"^\s*Materialize\s*$")).click()
    toast = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
    toast.wait_for()
    prefix = re.search(r"Launched run ([0-9a-f]{8})", toast.inner_text()).group(1)
    runs = readiness.graphql(prod_stack.web, RECENT_RUNS)["runsOrError"]["results"]
    run_id = next(r["runId"] for r in runs if r["runId"].startswith(prefix))
    assert wait_for_run(prod_stack.web, run_id, timeout=300) == "SUCCESS"
    page.goto(f"{prod_stack.web}/runs/{run_id}")
    page.get_by_text("Success", exact=True).first.wait_for()
    assert asset in page.inner_text("body")
    shot(page, "dagster_materialize_run")


def test_schedules_and_sensors_show_as_running(prod_stack: ProdStack, prod_runs: ProdRuns, page):
    prod_runs.resume_sensors(prod_stack.web)  # back to their declared default, as on a fresh deployment
    repo = instigators(prod_stack.web)
    expected = [("schedules", s["name"]) for s in repo["schedules"]] + [("sensors", s["name"]) for s in repo["sensors"]]
    assert any(kind == "schedules" for kind, _ in expected) and any(kind == "sensors" for kind, _ in expected)
    page.goto(f"{prod_stack.web}/automation")
    for kind, name in expected:
        row = page.locator("[data-index]", has=page.locator(f"a[href$='/{kind}/{name}']"))
        row.wait_for()
        toggle = row.locator("input[type=checkbox]").last  # the first checkbox selects the row
        expect(toggle, f"{name} shows as stopped").to_be_checked()
    shot(page, "dagster_automation")


def _weekly_experiments(prod_stack: ProdStack, prod_runs: ProdRuns) -> dict[str, tuple[str, list[dict]]]:
    """MLflow experiments holding runs of the weekly Dagster run: name -> (id, runs)."""
    api = f"{prod_stack.mlflow}/api/2.0/mlflow"
    found = {}
    for experiment in requests.post(f"{api}/experiments/search", json={"max_results": 100}, timeout=30).json()["experiments"]:
        runs = requests.post(f"{api}/runs/search", timeout=30, json={
            "experiment_ids": [experiment["experiment_id"]], "max_results": 200,
            "filter": f"tags.`dagster.run_id` = '{prod_runs.weekly}'"}).json().get("runs", [])
        if runs:
            found[experiment["name"]] = (experiment["experiment_id"], runs)
    return found


def _tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def _close_assistant(page) -> None:
    close = page.get_by_role("button", name="Close")
    if close.count():
        close.first.click()


def test_mlflow_experiment_lists_the_candidate_runs(prod_stack: ProdStack, prod_runs: ProdRuns, page):
    experiments = _weekly_experiments(prod_stack, prod_runs)
    assert experiments, "no MLflow experiment holds runs of the weekly Dagster run"
    for index, (name, (experiment_id, runs)) in enumerate(sorted(experiments.items())):
        parents = [_tags(r)["mlflow.runName"] for r in runs if "mlflow.parentRunId" not in _tags(r)]
        candidates = {_tags(r)["mlflow.runName"] for r in runs if "mlflow.parentRunId" in _tags(r)}
        assert parents and len(candidates) >= 2, (name, parents, candidates)
        # the link the platform prints: the classic model-training view, not MLflow 3's GenAI default
        page.goto(f"{prod_stack.mlflow}/#/experiments/{experiment_id}/runs?{stack.MLFLOW_CLASSIC_VIEW}")
        for parent in parents:
            cell = page.locator("[role=gridcell]", has_text=parent).first
            cell.wait_for()
            cell.locator("button").first.click()  # expand the nested candidate runs
        for candidate in candidates:
            page.locator("[role=gridcell] a", has_text=re.compile(rf"^\s*{re.escape(candidate)}\s*$")).first.wait_for()
        if index == 0:
            _close_assistant(page)
            shot(page, "mlflow_experiment_runs")
            # the model-training navigation, not the GenAI one (judges, prompts, agent versions)
            assert page.get_by_role("link", name="Judges").count() == 0


def test_mlflow_registered_model_shows_its_champion(prod_stack: ProdStack, prod_runs: ProdRuns, page):
    api = f"{prod_stack.mlflow}/api/2.0/mlflow"
    models = requests.get(f"{api}/registered-models/search", params={"max_results": 100}, timeout=30).json()["registered_models"]
    champions = {m["name"]: a["version"] for m in models for a in m.get("aliases", []) if a["alias"] == "champion"}
    assert champions, "no registered model has a champion alias"
    for index, (name, version) in enumerate(sorted(champions.items())):
        page.goto(f"{prod_stack.mlflow}/#/models/{name}")
        page.get_by_text(f"Version {version}", exact=True).first.wait_for()
        page.get_by_text(re.compile(r"@\s*champion")).first.wait_for()
        if index == 0:
            _close_assistant(page)
            shot(page, "mlflow_model_champion")
