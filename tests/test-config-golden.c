/*
 * test-config-golden.c runs the configuration golden files, OpenBSD style:
 * every tests/config/good/NAME.conf must load and print exactly NAME.out
 * (with its directory written as @DIR@), and that output must load back
 * and print the same; every tests/config/bad/NAME.conf must fail with
 * exactly the one line in NAME.err. Files are loaded from inside their
 * directory by their bare name, as `cd tests/config/bad && bevakad
 * --check-config --config NAME.conf` would, so the expected text is the
 * same for both. BEVAKA_GOLDEN_UPDATE=1 rewrites the expected files.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include "config.h"
#include "tap.h"

static bool update;

static char *read_text(const char *path)
{
        FILE *f = fopen(path, "r");
        char *buf = NULL;
        size_t len = 0, n;
        char chunk[4096];

        if (!f)
                return NULL;
        buf = calloc(1, 1);
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
                buf = realloc(buf, len + n + 1);
                memcpy(buf + len, chunk, n);
                len += n;
                buf[len] = '\0';
        }
        fclose(f);
        return buf;
}

static void write_text(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");

        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
                fprintf(stderr, "cannot write %s\n", path);
}

static char *print_config(const config_t *cfg)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        config_print(cfg, f);
        fclose(f);
        return buf;
}

/* Every occurrence of `from` in s replaced by `to`; a new string. */
static char *replace_all(const char *s, const char *from, const char *to)
{
        size_t nf = strlen(from), nt = strlen(to), count = 0;
        const char *p;
        char *out, *w;

        for (p = s; (p = strstr(p, from)); p += nf)
                count++;
        out = malloc(strlen(s) + count * nt + 1);
        for (w = out; (p = strstr(s, from)); s = p + nf) {
                memcpy(w, s, (size_t)(p - s));
                w += p - s;
                memcpy(w, to, nt);
                w += nt;
        }
        strcpy(w, s);
        return out;
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t n = strlen(s), k = strlen(suffix);

        return n > k && strcmp(s + n - k, suffix) == 0;
}

static void compare(const char *expected_path, const char *got)
{
        _cleanup_free_ char *want = read_text(expected_path);

        if (update) {
                write_text(expected_path, got);
                return;
        }
        if (!want || strcmp(want, got) != 0)
                fprintf(stderr, "--- %s (expected)\n%s--- got\n%s---\n", expected_path,
                        want ? want : "(missing)\n", got);
        CHECK(want && strcmp(want, got) == 0);
}

/* The printed form has absolute paths only, so it loads the same from anywhere. */
static void round_trip(const char *name, const char *printed)
{
        char path[] = "/tmp/test-config-golden-XXXXXX";
        _cleanup_free_ char *again = NULL;
        config_t cfg;
        char err[1024];
        int fd = mkstemp(path);

        CHECK(fd >= 0);
        if (fd < 0)
                return;
        close(fd);
        write_text(path, printed);
        CHECK_INT(config_load(path, NULL, &cfg, err, sizeof(err)), 0);
        unlink(path);
        again = print_config(&cfg);
        if (strcmp(again, printed) != 0)
                fprintf(stderr, "round trip of %s differs:\n%s", name, again);
        CHECK_STR(again, printed);
}

static void run_good(const char *name, const char *dir)
{
        config_t cfg;
        char err[1024], expected[512];
        int r = config_load(name, NULL, &cfg, err, sizeof(err));

        if (r)
                fprintf(stderr, "good/%s: %s\n", name, err);
        CHECK_INT(r, 0);
        if (!r) {
                _cleanup_free_ char *printed = print_config(&cfg);
                _cleanup_free_ char *stable = replace_all(printed, dir, "@DIR@");

                snprintf(expected, sizeof(expected), "%.*s.out", (int)(strlen(name) - 5), name);
                compare(expected, stable);
                round_trip(name, printed);
        }
}

static void run_bad(const char *name)
{
        config_t cfg;
        char err[1024], expected[512], line[1100];
        int r = config_load(name, NULL, &cfg, err, sizeof(err));

        CHECK_INT(r, BK_E_INVALID);
        snprintf(line, sizeof(line), "%s\n", err);
        snprintf(expected, sizeof(expected), "%.*s.err", (int)(strlen(name) - 5), name);
        compare(expected, line);
}

static int run_dir(const char *src, const char *sub, bool good)
{
        char dir[1024], cwd[1024];
        struct dirent **names;
        int n, count = 0;

        snprintf(dir, sizeof(dir), "%s/tests/config/%s", src, sub);
        if (!getcwd(cwd, sizeof(cwd)) || chdir(dir) != 0) {
                fprintf(stderr, "cannot enter %s\n", dir);
                CHECK(false);
                return 0;
        }
        /* As the daemon will see it: getcwd() resolves symlinks in the source path. */
        if (!getcwd(dir, sizeof(dir)))
                CHECK(false);
        n = scandir(".", &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                if (ends_with(names[i]->d_name, ".conf")) {
                        if (good)
                                run_good(names[i]->d_name, dir);
                        else
                                run_bad(names[i]->d_name);
                        count++;
                }
                free(names[i]);
        }
        free(n >= 0 ? names : NULL);
        if (chdir(cwd) != 0)
                CHECK(false);
        return count;
}

int main(void)
{
        char src[1024];
        const char *env = getenv("BEVAKA_SRC");

        if (env) {
                bk_strlcpy(src, env, sizeof(src));
        } else {
                /* tests/test-config-golden.c → the source root. */
                snprintf(src, sizeof(src), "%s", __FILE__);
                *(strrchr(src, '/') ?: src) = '\0';
                strcat(src, src[0] ? "/.." : "..");
        }
        update = getenv("BEVAKA_GOLDEN_UPDATE") != NULL;
        /* A directory that silently held no cases would pass anything. */
        CHECK(run_dir(src, "good", true) > 0);
        CHECK(run_dir(src, "bad", false) > 0);
        return tap_done();
}
