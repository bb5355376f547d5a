"""Serving must never pull in TensorFlow: the serve-only install does not have it."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHECK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from starlette.testclient import TestClient
    from serving.app import app

    png = Path("tests/fixtures/seven.png").read_bytes()  # not bench: it draws with training
    with TestClient(app) as client:
        response = client.post("/predict", content=png, headers={"Content-Type": "image/png"})
    assert response.status_code == 200, response.text
    assert response.json()["digit"] == 7
    loaded = {name.split(".")[0] for name in sys.modules}
    heavy = sorted(loaded & {"tensorflow", "keras", "tf2onnx", "onnx", "training"})
    print("heavy:", heavy)
    """
)


def test_running_the_app_imports_no_tensorflow():
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CHECK],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "heavy: []"
