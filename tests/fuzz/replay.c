/* SPDX-License-Identifier: MIT */
/*
 * replay - a main() for the fuzz targets without libFuzzer: feeds every file
 * of the committed seed corpus (or of the directories/files given) to
 * LLVMFuzzerTestOneInput, so the normal test run, and its ASan/UBSan build,
 * replays the corpus on every commit. CORPUS is set by the Makefile.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (!f) {
		perror(path);
		return 1;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return 1;
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int replay(const char *path, int *count)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	char sub[4096];
	int bad = 0;

	if (stat(path, &st) < 0) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		++*count;
		return replay_file(path);
	}
	d = opendir(path);
	if (!d) {
		perror(path);
		return 1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		bad |= replay(sub, count);
	}
	closedir(d);
	return bad;
}

int main(int argc, char **argv)
{
	int count = 0, bad = 0;

	if (argc < 2)
		bad = replay(CORPUS, &count);
	for (int i = 1; i < argc; i++)
		bad |= replay(argv[i], &count);
	if (count == 0) {
		fprintf(stderr, "FAIL: no corpus files found\n");
		return 1;
	}
	printf("replayed %d inputs\n", count);
	return bad;
}
