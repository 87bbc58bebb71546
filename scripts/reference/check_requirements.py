"""Exit 0 when every pinned requirement in the given file is installed at that version (setup.sh skips pip then)."""
import sys
from importlib import metadata

missing = []
for line in open(sys.argv[1], encoding="utf-8"):
    requirement = line.split("#", 1)[0].strip()
    if not requirement:
        continue
    name, _, version = requirement.partition("==")
    try:
        installed = metadata.version(name.strip())
    except metadata.PackageNotFoundError:
        missing.append(requirement)
        continue
    if version and installed != version.strip():
        missing.append(requirement)
if missing:
    print("missing: " + ", ".join(missing))
    sys.exit(1)
