#!/usr/bin/env bash
# How hub_v<N>.sql were made, once, from the code that made each released hub schema version:
# for version N, the last commit before migration N+1 was added (each file's first line names it),
# checked out in a scratch worktree, its central.db.create_schema run on a new SQLite file, and the
# file's DDL dumped. Re-run only to add the fixture of a newly released version (edit FIRSTS: the
# commit that added each migration, in order).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
python=${PYTHON:-$repo/.venv/bin/python}
FIRSTS=(3f21440 adc63ef dde4c46 eb60c14 a32e2db 33d9088 b8f2832 2398528 39d4410 5df0c15 9d2e656 64521b6 6144d11 24db912 815ffc8 ededd92 f60e8b0 7204734 0355466 25a43b8)
scratch=$(mktemp -d)
for i in $(seq 0 $((${#FIRSTS[@]} - 2))); do
  v=$((i + 1)); c=$(git -C "$repo" rev-parse --short "${FIRSTS[$((i + 1))]}^")
  git -C "$repo" worktree add -q --detach "$scratch/v$v" "$c"
  (cd "$scratch/v$v" && PYTHONPATH="$scratch/v$v" "$python" - "$v" "$c" "$scratch/v$v.sqlite3" "$here/hub_v$v.sql" <<'PY'
import pathlib, sqlite3, sys
from central.db import create_schema, make_engine
version, commit, db, out = sys.argv[1:]
engine = make_engine(f"sqlite:///{db}")
create_schema(engine)
engine.dispose()
ddl = [r[0] for r in sqlite3.connect(db).execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type DESC, name")]
rows = [f"INSERT INTO schemaversion (id, version) VALUES (1, {v});" for (v,) in sqlite3.connect(db).execute("SELECT version FROM schemaversion")] if int(version) > 1 else []
pathlib.Path(out).write_text(f"-- hub schema version {version}, made by the code of commit {commit} (central.db.create_schema on a new SQLite file)\n" + ";\n".join(ddl) + ";\n" + "".join(r + "\n" for r in rows))
PY
  )
  git -C "$repo" worktree remove --force "$scratch/v$v"
done
rm -rf "$scratch"
