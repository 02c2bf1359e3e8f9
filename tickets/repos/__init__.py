"""The one owner of a project's git repository and its worktree pool: every caller goes through here.

The runner, the review's approve and the reconcile (tickets.decisions), the diff pages (tickets.changes), the
admin and API through them, memory_init and factory_bench all start from `project_repo(project)`:

- clone.ProjectRepo: the cached bare clone (FACTORY_DATA_DIR/repos/<name>.git), fetched before use, its
  per-project file lock, a ticket's worktree (FACTORY_DATA_DIR/worktrees/<name>/...), scratch and merge
  checkouts, the pool of parked spares, and the cleanup after a full disk or a killed git;
- merging: the approve's merge and push, at most once per ticket, and the search for merges already pushed;
- pool: a merged or cancelled ticket's checkout recycled as a spare, the pool refilled (FACTORY_WARM_WORKTREES).

Beneath it, lib.gitrepo and lib.gitmerge are plain git on one repository or worktree; nothing else builds a
ProjectRepo or touches the clones and worktrees folders outside tests (.importlinter keeps the modules
inside private).
"""
from lib.gitmerge import TICKET_TRAILER, MergeOutcome
from lib.gitrepo import GitError
from tickets.repos.clone import CLEAN, ProjectRepo
from tickets.repos.merging import merge_and_push, merges_naming
from tickets.repos.pool import keep_spares, on_ticket_event, project_repo, recycle

__all__ = ["CLEAN", "TICKET_TRAILER", "GitError", "MergeOutcome", "ProjectRepo", "keep_spares", "merge_and_push",
           "merges_naming", "on_ticket_event", "project_repo", "recycle"]
