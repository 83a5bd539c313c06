#!/usr/bin/env bash
# Keep each project's state on a dedicated branch, so that ephemeral CI runners share one state.
#   state-branch.sh restore PROJECT_DIR   copy the branch's state into PROJECT_DIR/.reconciler/state
#   state-branch.sh save PROJECT_DIR      commit PROJECT_DIR/.reconciler/state/*.json (each state's
#                                         snapshot), *.json.journal (its journal), *.json.history
#                                         (the runs moved out of the head) and *.json.claims to the branch
# The branch (default reconciler-state, or $STATE_BRANCH) holds one folder per project.
set -euo pipefail
mode=${1:?usage: state-branch.sh restore|save PROJECT_DIR}
project=${2:?usage: state-branch.sh restore|save PROJECT_DIR}
branch=${STATE_BRANCH:-reconciler-state}
remote=${STATE_REMOTE:-origin}
key=$([ "$project" = "." ] && echo root || echo "$project")
dest="$project/.reconciler/state"

case "$mode" in
  restore)
    mkdir -p "$dest"
    if git fetch --quiet --depth=1 "$remote" "$branch" 2>/dev/null; then
      if git cat-file -e "FETCH_HEAD:$key" 2>/dev/null; then
        git archive FETCH_HEAD "$key" | tar -x -C "$dest" --strip-components="$(tr -cd / <<<"$key/" | wc -c)"
        echo "restored state of '$project' from branch $branch"
        exit 0
      fi
    fi
    echo "no state for '$project' on branch $branch yet: starting from an empty state"
    ;;
  save)
    shopt -s nullglob
    # A snapshot without its journal would lose the writes since it was last rewritten
    # (docs/contract.md section 6); an emptied journal is saved too, over an older one. The
    # history and claims files hold the runs the snapshot (the head) no longer holds.
    files=("$dest"/*.json "$dest"/*.json.journal "$dest"/*.json.history "$dest"/*.json.claims)
    if [ ${#files[@]} -eq 0 ]; then
      echo "no state files in $dest: nothing to save"
      exit 0
    fi
    # Build the commit with plumbing and a private index: no worktree, no checkout, and it
    # works whether or not the branch exists yet.
    export GIT_AUTHOR_NAME=reconciler GIT_AUTHOR_EMAIL=reconciler@users.noreply.github.com
    export GIT_COMMITTER_NAME=reconciler GIT_COMMITTER_EMAIL=reconciler@users.noreply.github.com
    for attempt in 1 2 3; do
      index=$(mktemp)
      parent=""
      if git fetch --quiet "$remote" "$branch" 2>/dev/null; then
        parent=$(git rev-parse FETCH_HEAD)
        GIT_INDEX_FILE=$index git read-tree "$parent"
      else
        rm -f "$index"
        GIT_INDEX_FILE=$index git read-tree --empty
      fi
      for file in "${files[@]}"; do
        blob=$(git hash-object -w "$file")
        GIT_INDEX_FILE=$index git update-index --add --cacheinfo "100644,$blob,$key/$(basename "$file")"
      done
      tree=$(GIT_INDEX_FILE=$index git write-tree)
      rm -f "$index"
      if [ -n "$parent" ] && [ "$tree" = "$(git rev-parse "$parent^{tree}")" ]; then
        echo "state of '$project' unchanged"
        exit 0
      fi
      commit=$(git commit-tree "$tree" ${parent:+-p "$parent"} -m "state: $project (${GITHUB_RUN_ID:-local run})")
      if git push --quiet "$remote" "$commit:refs/heads/$branch"; then
        echo "saved state of '$project' to branch $branch"
        exit 0
      fi
      echo "push raced with another project's save; retrying ($attempt)" >&2
      sleep $((attempt * 2))
    done
    echo "error: could not push state to branch $branch after 3 attempts" >&2
    exit 1
    ;;
  *)
    echo "usage: state-branch.sh restore|save PROJECT_DIR" >&2
    exit 1
    ;;
esac
