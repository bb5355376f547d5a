"""Serving must never pull in TensorFlow: the serve-only install does not have it."""

import subprocess
import sys
import textwrap

CHECK = textwrap.dedent(
    """
    import sys
    from starlette.testclient import TestClient
    from bench.digits import canvas_pngs
    from serving.app import app

    pngs, labels = canvas_pngs(1)
    with TestClient(app) as client:
        response = client.post("/predict", content=pngs[0], headers={"Content-Type": "image/png"})
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["digit"], int)
    loaded = {name.split(".")[0] for name in sys.modules}
    heavy = sorted(loaded & {"tensorflow", "keras", "tf2onnx", "onnx", "training"})
    print("heavy:", heavy)
    """
)


def test_running_the_app_imports_no_tensorflow():
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CHECK], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "heavy: []"
