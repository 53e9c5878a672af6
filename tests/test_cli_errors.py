"""The CLI's error boundary: usage errors, user errors and Ctrl-C end with a message and an exit status."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from zoo_testing import run_zoo


@pytest.mark.parametrize("args, message", [
    (["generate", "char-gpt", "A", "-n", "abc"], "Error: Invalid value for '--max-new-tokens' / '-n':"),
    (["generate"], "Error: Missing argument 'name'."),
    (["train", "char-gpt", "--bogus"], "Error: No such option: --bogus"),
    (["generate", "char-gpt", "A", "--stop"], "Error: Option '--stop' requires an argument."),
])
def test_usage_errors_print_one_message(zoo_env, args, message):
    result = run_zoo(*args, cwd=zoo_env["project"])
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_user_error_prints_error_line(zoo_env):
    result = run_zoo("generate", "no-such-entry", "A", cwd=zoo_env["project"])
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_empty_entry_name_is_rejected(zoo_env):
    result = run_zoo("generate", "", "A", cwd=zoo_env["project"])
    assert result.returncode == 1
    assert "error: the entry name is empty; give an entry name, name@version or a folder path" in \
        " ".join(result.stderr.split())


SLEEPING_COMMAND = """
import sys, time
from zoo.cli import main
from zoo.cli._app import app

@app.command("sleep-for-test")
def sleep_for_test():
    print("ready", flush=True)
    time.sleep(120)

sys.exit(main(["sleep-for-test"]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_interrupt_exits_130(zoo_env):
    # A command registered by the test waits until Ctrl-C (SIGINT) reaches it through the real entry point.
    process = subprocess.Popen([sys.executable, "-c", SLEEPING_COMMAND], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=zoo_env["project"])
    assert process.stdout.readline() == "ready\n"
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted" in stderr
