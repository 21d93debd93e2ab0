/* The softthink CLI: each subcommand lives in app/cmd_<name>.c and is
 * registered in app/main.c. Commands print; the library never does. */
#ifndef ST_APP_CLI_H
#define ST_APP_CLI_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "softthink.h"

/* Print "softthink <cmd>: error: <msg>" to stderr and return 1 (exit status). */
int cli_fail(const char *cmd, const char *fmt, ...);
/* Report a failed library call with the library's message; returns 1. */
int cli_fail_status(const char *cmd, st_status s);

/* Option parsing helpers: return 1 if argv[*i] is the option (and take its value). */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);
int cli_flag(char **argv, int i, const char *name);
/* Strict number parsing: 0 on success, -1 if not a number (message printed). */
int cli_int(const char *cmd, const char *opt, const char *s, long long *out);
/* --cache-type: "f16" or "q8_0" -> *out; -1 (printed) otherwise. */
int cli_cache_type(const char *cmd, const char *s, st_type *out);
int cli_float(const char *cmd, const char *opt, const char *s, double *out);
/* Parse "1 2 3" (spaces or commas) into a malloc'd array. */
int cli_parse_ids(const char *cmd, const char *s, st_token **ids, int *n);

typedef int (*cli_cmd_fn)(int argc, char **argv);


/* 0 after --no-repack: models keep their matrices as the file has them
 * (st_model_params.repack), e.g. to compare speed with and without panels. */
extern int cli_repack;
/* Load a model and make a context; prints the error and returns 1 on failure. */
int cli_open(const char *cmd, const char *model_path, const st_context_params *cp, st_model **m, st_context **c);
double cli_now(void); /* monotonic seconds */
#endif
