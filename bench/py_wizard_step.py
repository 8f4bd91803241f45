"""The old wizard path's per-step cost, modelled: the launcher spawned `python3 … wizard.py
next|submit --state FILE` for every prompt. This script does what such a process minimally
does — start python3, import json, load the state file, pick the next unanswered step,
record the answer, write the state back — without any of the real wizard's project reads,
so the figure is a lower bound on the old path (the spawn and interpreter start dominate).
Usage: py_wizard_step.py next|submit STATE_FILE [VALUE]"""
import json
import os
import sys

ORDER = ["task_type", "task_pick", "brief_pick", "base_ref_pick", "customize_pick", "branch_confirm", "confirm"]


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        state = json.load(f)
    answers = state.setdefault("answers", {})
    step = next((s for s in ORDER if s not in answers), "done")
    if cmd == "next":
        print(json.dumps({"ok": True, "next": {"step": step}}))
        return
    answers[step] = sys.argv[3]
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f, ensure_ascii=False, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    print(json.dumps({"ok": True, "echo": f"{step}: {sys.argv[3]}"}))


if __name__ == "__main__":
    main()
