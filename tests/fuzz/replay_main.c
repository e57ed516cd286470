/*
 * replay_main.c - a libFuzzer target's entry point run over files, for
 * builds without libFuzzer (gcc): `<name>_replay PATH...` feeds every
 * regular file under each PATH (a file, or a directory read one level
 * deep) to LLVMFuzzerTestOneInput() once.  A broken contract aborts, as
 * under libFuzzer; an empty corpus is a failure, so a lost corpus cannot
 * pass silently.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest input replayed: libFuzzer's own corpora stay far below. */
#define REPLAY_MAX (1024 * 1024)

/* Feed one file; 1 when it was fed, 0 when it is not a readable file. */
static int replay_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > REPLAY_MAX)
        return 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    size_t n = buf != NULL ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (buf == NULL)
        return 0;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 1;
}

int main(int argc, char **argv)
{
    size_t fed = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (d == NULL) {
            fed += (size_t)replay_file(argv[i]);
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            fed += (size_t)replay_file(path);
        }
        closedir(d);
    }
    printf("replayed %zu inputs\n", fed);
    return fed > 0 ? 0 : 1;
}
