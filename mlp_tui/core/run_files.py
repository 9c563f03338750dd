"""The name of every file a run keeps in its directory, declared once (runs/layout.py adds
whose process owns the directory)."""

METRICS_FILE = "metrics.jsonl"  # every event, one JSON line each: what `watch`, `runs` and `compare` read
CONFIG_FILE = "config.toml"  # the resolved config, a preset file; its time is when the run started
PROCESS_FILE = "process.json"  # pid and host of the process training the run
CONTROL_FILE = "control"  # a command for that process ("pause", "lr 0.01"; "stop" for a comparison's driver)
REPORT_FILE = "report.txt"  # the final report, with the command that reproduces the run
ERROR_LOG = "error.log"  # the traceback of a run that failed for a bug
LAST_CHECKPOINT = "last.pt"  # the newest save: what `--resume` continues from
BEST_CHECKPOINT = "best.pt"  # the best weights on validation so far: what is tested at the end
