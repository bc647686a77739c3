/* SPDX-License-Identifier: MIT */
/*
 * scripts - the executables an install generates, byte for byte what pip 23
 * writes on POSIX: entry_points.txt parsing, the console_scripts and
 * gui_scripts launchers (distlib's template, as pip vendors it), the
 * "#!python" rewrite of .data/scripts files, the shebang itself (distlib's
 * rule: a plain "#!/path/python" unless the path holds a space or the line
 * would pass 127 bytes, then a /bin/sh trampoline), pip's versioned
 * pip/easy_install names, and the modes pip gives each file. Pure functions
 * over buffers: writing is the caller's (through envmod).
 */
#ifndef SPOKE_ENGINE_SCRIPTS_H
#define SPOKE_ENGINE_SCRIPTS_H

#include "engine/wheel.h"

#include <stddef.h>
#include <sys/types.h>

/* Parse entry_points.txt: the console_scripts and gui_scripts sections.
 * A name given twice in a section keeps its first place and its last value
 * (a Python dict). SPOKE_E_BADWHEEL with the reason in err for a line that
 * is not "name = module:attr [extras]" (pip requires the ":attr"). */
int scripts_parse_entry_points(const char *buf, size_t len,
			       struct wheel_ep **eps, size_t *n, char *err,
			       size_t errlen);
void scripts_free_eps(struct wheel_ep *eps, size_t n);

/* 1 if in holds a console "pip" or "easy_install" entry point, whose
 * launchers pip names after the interpreter version. */
int scripts_needs_pyver(const struct wheel_ep *in, size_t n);
/* The launchers to write, as pip chooses them: "pip" becomes pip, pipX and
 * pipX.Y (other pipN[.M] entries dropped), "easy_install" becomes
 * easy_install and easy_install-X.Y, then the other console entries, then
 * gui entries; a later entry of the same name replaces an earlier one.
 * pyver ("3.11") may be NULL when !scripts_needs_pyver(). The strings of
 * *out are copies. */
int scripts_expand(const struct wheel_ep *in, size_t n, const char *pyver,
		   struct wheel_ep **out, size_t *nout);
/* pip skips .data/scripts files that setuptools generated for an entry
 * point: NAME, NAME.exe, NAME-script.py, NAME.pya. */
int scripts_is_ep_wrapper(const char *base, const struct wheel_ep *eps,
			  size_t n);
/* An entry-point name usable as a file name in the scripts directory (no
 * '/', not "." or "..", no control character, at most 255 bytes). */
int scripts_valid_name(const char *name);

/* The shebang for python, with its line end (heap). */
int scripts_shebang(const char *python, char **out, size_t *len);
/* A launcher for ep (heap). */
int scripts_launcher(const char *python, const struct wheel_ep *ep,
		     char **out, size_t *len);
/* A .data/scripts file whose first line starts with "#!python" (which
 * includes "#!pythonw") gets the interpreter's shebang in place of that
 * whole first line, as pip's fix_script does. */
int scripts_is_python_shebang(const char *head, size_t n);
int scripts_fix(const char *python, const char *src, size_t len, char **out,
		size_t *outlen);

/* Modes, from the process umask: launchers (0666 & ~umask) | 0555 (distlib's
 * set_mode), rewritten scripts the mode pip's extraction gives them, other
 * generated files 0666 & ~umask. */
mode_t scripts_launcher_mode(void);
mode_t scripts_fixed_mode(mode_t src_mode);
mode_t scripts_generated_mode(void);

#endif
