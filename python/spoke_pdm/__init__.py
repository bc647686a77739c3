# SPDX-License-Identifier: MIT
"""spoke_pdm - a pdm plugin: `pdm sync` / `pdm install` materialise every
wheel of the sync, and remove what the sync removes, through one spoke
transaction (spoke.install with remove=), instead of one install per
package. pdm keeps resolution, locking, downloads and hash checks: the
plugin receives the wheels pdm prepared. Before pdm reads the environment
the plugin replays the journal a killed sync left (spoke.recover), so pdm
never sees a half-made environment. Ctrl-C during the transaction rolls it
back (the binding cancels the run and raises KeyboardInterrupt after the
rollback). Editable candidates and the project itself are installed by
pdm's own installer after the transaction. See README.md here.
"""

from __future__ import annotations

from typing import Any, Dict, List

import spoke
from pdm.installers import Synchronizer

SCHEME_KEYS = {"purelib": "purelib", "platlib": "platlib",
               "scripts": "scripts", "data": "data"}


def _scheme(environment: Any) -> Dict[str, str]:
    paths = environment.get_paths()
    return {ours: paths[theirs] for ours, theirs in SCHEME_KEYS.items()
            if paths.get(theirs)}


class SpokeSynchronizer(Synchronizer):
    """pdm's Synchronizer with the wheel work done by one spoke run."""

    def __init__(self, candidates: Any, environment: Any,
                 *args: Any, **kwargs: Any) -> None:
        # The base class reads the working set: recover first.
        report = spoke.recover(scheme=_scheme(environment),
                               python=str(environment.interpreter.executable))
        if report.status:
            environment.project.core.ui.echo(
                "spoke: finished an interrupted sync (%s)"
                % ("rolled back" if report.status == 1 else "completed"))
        super().__init__(candidates, environment, *args, **kwargs)

    def _ours(self, key: str) -> bool:
        can = self.candidates.get(key)
        return can is not None and not can.req.editable

    def synchronize(self) -> None:
        if self.dry_run:
            return super().synchronize()
        to_add, to_update, to_remove = self.compare_with_working_set()
        if any(not self._ours(k) for k in to_add + to_update):
            # Editable requirements: pdm's own installer does everything.
            return super().synchronize()
        ui = self.environment.project.core.ui
        self._show_headline({"add": to_add, "update": to_update,
                             "remove": to_remove})
        wheels: List[str] = []
        urls: Dict[int, Any] = {}
        for key in to_add + to_update:
            prepared = self.candidates[key].prepare(self.environment)
            url = prepared.direct_url()
            if url is not None:
                urls[len(wheels)] = url
            wheels.append(str(prepared.build()))
        names = [self.working_set[k].metadata["Name"] for k in to_remove]
        if wheels or names:
            report = spoke.install(
                wheels, scheme=_scheme(self.environment),
                python=str(self.environment.interpreter.executable),
                installer="pdm", remove=names, direct_urls=urls,
                reinstall=self.reinstall)
            for w in report.wheels:
                if w.action == "removed":
                    ui.echo("  - Remove %s %s" % (w.name, w.previous_version))
                elif w.action != "unchanged":
                    ui.echo("  - %s %s %s" % (w.action.capitalize(), w.name,
                                              w.version))
        if self.install_self:
            self._install_self()
        ui.echo("All complete!")

    def _install_self(self) -> None:
        """The project itself, by pdm's install manager (often editable)."""
        can = self.environment.project.make_self_candidate(
            not self.no_editable)
        key = self.self_key
        if key in self.working_set:
            self.manager.uninstall(self.working_set[key])
        self.manager.install(can)


def plugin(core: Any) -> None:
    """The `pdm` entry point: swap in the spoke synchronizer."""
    core.synchronizer_class = SpokeSynchronizer
