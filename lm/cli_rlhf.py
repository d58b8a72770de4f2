"""`python -m lm rlhf demo [--corpus FILE] [--json] [--seed N] [--plot PNG]`."""
import argparse
import json
import os
import sys


def _limit_blas_threads():
    """One BLAS thread unless the user chose otherwise: the demo's matrices are tiny (width 64), and on a
    busy 2-core machine OpenBLAS's worker threads made a 128x64 @ 64x192 product 100x slower, not faster.
    Only effective before numpy is first imported, which `python -m lm` has not done yet when it imports
    this module (it imports each family's CLI only when that family is asked for)."""
    if "numpy" not in sys.modules:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")


_limit_blas_threads()  # before the imports below, which import numpy

from fasttok._progress import Progress  # noqa: E402  the progress printer of both packages' command lines

from .rlhf import demo  # noqa: E402  demo.bpe_available is looked up at each call, so a test can replace it
from .rlhf.demo import DemoConfig, bpe_config, format_table, plot_history, quick_config, run_demo  # noqa: E402


def main(argv):
    parser = argparse.ArgumentParser(prog="lm rlhf", description="RLHF on a tiny numpy GPT")
    sub = parser.add_subparsers(dest="command", required=True)
    command = sub.add_parser("demo", help="pre-train → preferences → reward model → PPO (±KL) → DPO, one table")
    command.add_argument("--corpus", help="training text (default: CPython's pydoc_data documentation topics)")
    command.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    command.add_argument("--json", action="store_true",
                         help="print the results as one JSON object on the last line")
    command.add_argument("--plot", default="rlhf_demo.png",
                      help="PNG of reward and KL per PPO iteration, if matplotlib is installed ('' to skip)")
    command.add_argument("--tokenizer", choices=("auto", "char", "bpe"), default="auto",
                      help="a 512-token fasttok BPE trained on the corpus, or one token per character; "
                           "auto (default) is bpe, or char with a warning when fasttok's compiled core is "
                           "not importable")
    command.add_argument("--quick", action="store_true",
                      help="a scaled-down run (seconds) to check the installation; its numbers mean little")
    command.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    with Progress("lm rlhf demo") as progress:
        fallback = ""
        if args.tokenizer != "char" and not demo.bpe_available():
            if args.tokenizer == "bpe":  # asked for: never replaced by something else
                progress.message(f"lm rlhf: error: --tokenizer bpe: {demo.BPE_MISSING}")
                return 1
            # the documented results are on BPE tokens: a silent switch would pass off other numbers as them
            fallback = " (fallback: fasttok's compiled core is not importable)"
            progress.message(f"lm rlhf: WARNING: {demo.BPE_MISSING}. Falling back to one token per character: "
                             "the results will not be the documented BPE run's. Pass --tokenizer char to choose "
                             "characters knowingly.")
            args.tokenizer = "char"
        elif args.tokenizer == "auto":
            args.tokenizer = "bpe"
        if args.quick:
            config = quick_config(tokenizer=args.tokenizer)
        else:
            config = bpe_config() if args.tokenizer == "bpe" else DemoConfig()
        try:
            results = run_demo(config, corpus=args.corpus, seed=args.seed,
                               log=None if args.quiet else progress.message)
        except (OSError, ValueError) as e:
            progress.message(f"lm rlhf: {e}")
            return 1
    print(f"tokenizer: {args.tokenizer}{fallback}")
    print(format_table(results))
    if args.plot:
        try:
            plot_history(results, args.plot)
            print(f"plot written to {args.plot}")
        except ImportError:
            print("matplotlib is not installed: no plot")
    print(f"seconds: {results['seconds']:.1f}")
    if args.json:
        keys = ("reward_model_heldout_accuracy", "rule_score_base", "rule_score_ppo", "kl_ppo",
                "rule_score_ppo_no_kl", "kl_ppo_no_kl", "rule_score_dpo", "kl_dpo", "pretrain_loss", "seed",
                "seconds")
        print(json.dumps({"tokenizer": args.tokenizer, **{k: results[k] for k in keys}}))
    return 0
