"""Load time and peak memory of ELECTRA-base checkpoints in each format, each load in a fresh process.

    python benchmarks/load_time.py [--format ngc|keras|hf|all] [--dir benchmarks/out] [--repeats 3]

Writes an NGC-layout checkpoint once (random weights, m and v Adam slots, 1.32 GB, written by TensorFlow's SaveV2),
converts it to an electra-qa Keras folder (``save_model``) and to Hugging Face layout (``export_huggingface``), then
times ``load_model`` on each and reports memory: peak RSS of the process, its RSS right after the imports (TensorFlow
alone maps ~470 MB of shared libraries), and the peak growth over that.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "electra_base_qa_v2_False_epoch_2_ckpt"


def _status():
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) / 1024
    return fields


def write(folder):
    import numpy as np

    from electra_qa import ElectraConfig, ElectraForQuestionAnswering
    from electra_qa.checkpoints.formats.ngc import FORMAT
    from electra_qa.checkpoints.slots import keyed_weights

    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
    from checkpoint_writers import write_ngc_checkpoint

    os.makedirs(folder, exist_ok=True)
    model = ElectraForQuestionAnswering(ElectraConfig.base(), head="joint")
    rng = np.random.default_rng(0)
    weights = {
        k: rng.normal(0, 0.02, size=v.shape).astype("float32") for k, v in keyed_weights(model, FORMAT)[0].items()
    }
    del model
    write_ngc_checkpoint(os.path.join(folder, PREFIX), weights)


def convert(ngc_folder, keras_folder, hf_folder):
    import electra_qa

    model = electra_qa.load_ngc_checkpoint(ngc_folder, config=electra_qa.ElectraConfig.base())
    electra_qa.save_model(model, keras_folder)
    simple = electra_qa.ElectraForQuestionAnswering(electra_qa.ElectraConfig.base(), head="simple")
    electra_qa.export_huggingface(simple, hf_folder)


def load(folder):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The backend first: electra_qa imports it lazily, and import time is not load time.
    import keras  # noqa: F401

    import electra_qa
    import electra_qa.checkpoints.loader  # noqa: F401

    after_import = _status()
    t0 = time.perf_counter()
    model = electra_qa.load_model(folder, config=electra_qa.ElectraConfig.base() if "ngc" in folder else None)
    seconds = time.perf_counter() - t0
    end = _status()
    print(
        json.dumps(
            {
                "load_s": seconds,
                "params": model.count_params(),
                "rss_after_import_mb": after_import["VmRSS"],
                "peak_rss_mb": end["VmHWM"],
                "peak_growth_mb": end["VmHWM"] - after_import["VmRSS"],
                "rss_anon_end_mb": end["RssAnon"],
                "rss_file_end_mb": end["RssFile"],
            }
        )
    )


def _run(code):
    subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {HERE!r}); import load_time; {code}"], check=True
    )


def measure(folder, repeats):
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print(f"{folder} ({size / 1e9:.2f} GB, {size / 2**30:.2f} GiB)")
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, __file__, "--dir", folder, "--_load"], check=True, capture_output=True, text=True
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
        print("  " + json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in runs[-1].items()}))
    best = min(runs, key=lambda r: r["load_s"])
    peak = max(r["peak_rss_mb"] for r in runs)
    growth = max(r["peak_growth_mb"] for r in runs)
    print(
        f"  best load {best['load_s']:.2f} s; peak RSS {peak:.0f} MB "
        f"(after imports {best['rss_after_import_mb']:.0f} MB; growth {growth:.0f} MB)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=os.path.join(HERE, "out"))
    parser.add_argument("--format", choices=("ngc", "keras", "hf", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--_load", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._load:
        return load(args.dir)
    folders = {f: os.path.join(args.dir, f"{f}_base") for f in ("ngc", "keras", "hf")}
    if not os.path.exists(os.path.join(folders["ngc"], PREFIX + ".index")):
        t0 = time.perf_counter()
        _run(f"load_time.write({folders['ngc']!r})")
        print(f"wrote NGC checkpoint in {time.perf_counter() - t0:.1f} s")
    if not os.path.exists(os.path.join(folders["keras"], "model.weights.h5")):
        _run(f"load_time.convert({folders['ngc']!r}, {folders['keras']!r}, {folders['hf']!r})")
    for fmt in ("ngc", "keras", "hf") if args.format == "all" else (args.format,):
        measure(folders[fmt], args.repeats)


if __name__ == "__main__":
    main()
