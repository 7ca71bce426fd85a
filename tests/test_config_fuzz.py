"""Random TOML values of every type in every config field (a seeded generator): resolving a
config either works, and then survives config.toml and back unchanged, or fails with one
`UserInputError` line; no other exception, in-process or from the real command.

The fields are read from the dataclasses, so fields added later are fuzzed too."""
import dataclasses
import datetime
import os
import random
import subprocess
import sys

import pytest
import tomli_w

from stackelberg import tasks
from stackelberg.cli import run
from stackelberg.config import Config, check_device, config_record, config_to_toml, load_saved_config
from stackelberg.core.errors import UserInputError

SEED = 20240531
FIELDS = [(name, f.name) for name, section in Config().items() for f in dataclasses.fields(section)]

INTS = [0, 1, -1, 2, 3, 7, 250, 10_000, 2**31, 2**32, 4294967295, 2**62, 2**63 - 1, -2**63]
FLOATS = [0.0, -0.0, 0.5, 1.0, 1.5, -3.25, 1e-300, 1e300, 1e3, float("inf"), float("-inf"),
          float("nan")]
TEXTS = ["", "none", "None", "inf", "nan", "true", "false", "yes", "1", "0", "-1", "1e3", "2.5",
         "1,2", "(64, 64)", "cpu", "cuda", "cuda:0", "cuda:x", "std", "mad", "float32",
         "bfloat16", "npg", "mbpo", "auto", "deterministic", "probabilistic", "pal", "mal", "gda",
         "br", 'quote " and \\ backslash', "üñí©ødé", "tab\there", "new\nline", "nul\0char",
         "x" * 300, "dynamics@100", "goals@8000:dx=1", "dynamics@5:target=mass,scale=2,body=pole",
         "wobble@1", "dynamics@-5", *tasks.names()]


def random_value(rng: random.Random, depth: int = 0):
    """A value of a random TOML type: int, float, bool, string, date/time, array, table."""
    kind = rng.choice(["int", "int", "float", "float", "bool", "text", "text", "text", "date",
                       "list", "list", "table"] if depth == 0 else ["int", "float", "text", "bool"])
    if kind == "int":
        return rng.choice(INTS + [rng.randint(-10**6, 10**6)])
    if kind == "float":
        return rng.choice(FLOATS + [rng.uniform(-10, 10)])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "text":
        return rng.choice(TEXTS)
    if kind == "date":
        return rng.choice([datetime.date(2024, 1, 2), datetime.datetime(2024, 1, 2, 3, 4, 5),
                           datetime.time(3, 4, 5)])
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.choice([0, 1, 2, 2, 3, 4, 5]))]
    return {"key": random_value(rng, depth + 1)}


def resolve(path, out):
    """What `python -m stackelberg.run --config PATH --out OUT` resolves before any file is
    written (the run folder included)."""
    config = run.config_from_args(run.build_parser().parse_args(["--config", str(path), "--out", out]))
    run._out_dir(config)
    check_device(config.run.device)
    return config


def check(data, tmp_path, outcomes):
    path = tmp_path / "fuzz.toml"
    path.write_text(tomli_w.dumps(data))
    try:
        config = resolve(path, str(tmp_path / "out"))
    except UserInputError as err:
        assert str(err) and "\n" not in str(err) and len(str(err)) < 2000, str(err)
        outcomes["refused"].append(data)
        return
    # accepted: config.toml must hold it exactly (quotes, backslashes, unicode and all)
    saved = tmp_path / "config.toml"
    saved.write_text(config_to_toml(config))
    assert config_record(load_saved_config(saved)) == config_record(config)
    outcomes["accepted"].append(data)


def test_random_values_in_every_field_resolve_or_are_one_line_errors(tmp_path):
    rng = random.Random(SEED)
    outcomes = {"accepted": [], "refused": []}
    for section, key in FIELDS:  # each field alone, with a dozen values of every type
        for _ in range(8):
            check({section: {key: random_value(rng)}}, tmp_path, outcomes)
    for _ in range(100):  # several fields at once, so that the rules between fields are hit too
        data: dict = {}
        for section, key in rng.sample(FIELDS, rng.randint(2, 6)):
            data.setdefault(section, {})[key] = random_value(rng)
        check(data, tmp_path, outcomes)
    assert len(outcomes["accepted"]) > 50 and len(outcomes["refused"]) > 500, \
        {k: len(v) for k, v in outcomes.items()}


def test_random_edits_of_a_run_config_load_or_are_one_line_errors(tmp_path):
    """The --resume side: a config.toml with one field replaced loads or is refused."""
    rng = random.Random(SEED + 1)
    record = config_record(run.config_from_args(run.build_parser().parse_args([])))
    path = tmp_path / "config.toml"
    counts = {"loaded": 0, "refused": 0}
    for section, key in FIELDS:
        for _ in range(2):
            data = {s: dict(v) for s, v in record.items()}
            data[section][key] = random_value(rng)
            path.write_text(tomli_w.dumps(data))
            try:
                config = load_saved_config(path)
            except UserInputError as err:
                assert str(err) and "\n" not in str(err), str(err)
                counts["refused"] += 1
                continue
            assert config.run.task in tasks.names()
            counts["loaded"] += 1
    # both outcomes occur: a check that refused every edit (or none) would pass unnoticed
    assert counts["loaded"] > 20 and counts["refused"] > 100, counts


def test_random_refused_configs_through_the_real_command(tmp_path):
    """A handful through `python -m stackelberg.run`: exit 2, one line, nothing created."""
    rng = random.Random(SEED + 2)
    refused = []
    while len(refused) < 2:
        section, key = rng.choice(FIELDS)
        data = {section: {key: random_value(rng)}}
        path = tmp_path / f"c{len(refused)}.toml"
        path.write_text(tomli_w.dumps(data))
        try:
            resolve(path, str(tmp_path / "out"))
        except UserInputError:
            refused.append(path)
    for path in refused:
        proc = subprocess.run([sys.executable, "-m", "stackelberg.run", "--config", str(path),
                               "--out", str(tmp_path / "out"), "--no-progress"],
                              capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
        assert "Traceback" not in proc.stderr
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text", ["[run]\nseed = 1979-05-27\n", "[run]\nthreads = {a = 1}\n",
                                  "[model]\nhidden_sizes = [[1, 2]]\n", "[npg]\nmax_kl = -inf\n",
                                  '[run]\nperturb = "goals@1"\n',
                                  '[schedule]\nname = "mal"\n'])
def test_odd_toml_types(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UserInputError):
        resolve(path, str(tmp_path / "out"))
