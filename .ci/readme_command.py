"""Print one of the README's two commands (`course` or `test`): the fenced block after its marker.

.ci/run runs the `test` command from here, so CI and the README can never disagree.
"""
import re
import sys
from pathlib import Path


README = Path(__file__).resolve().parent.parent / "README.md"


def readme_command(name: str, readme: Path = README) -> str:
    text = readme.read_text(encoding="utf-8")
    m = re.search(rf"<!-- command: {re.escape(name)} -->\s*```bash\n(.*?)\n```", text, re.S)
    if not m:
        raise SystemExit(f"README.md has no '<!-- command: {name} -->' block")
    return m.group(1).strip()


if __name__ == "__main__":
    print(readme_command(sys.argv[1]))
