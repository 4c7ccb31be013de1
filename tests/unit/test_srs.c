/* SPDX-License-Identifier: MIT */
/*
 * test_srs.c - delivery/srs.h: known answers (the same addresses Perl's
 * Mail::SRS::Guarded makes from the same secret and time), forward and
 * reverse round trips whatever the case, SRS0 forwarded again as SRS1 and
 * SRS1 again, forged and foreign hashes, the age limit with its 1024-day
 * wrap, hostile and malformed addresses, output buffers one octet short,
 * the null sender and our own senders, and the secret file: made 0600,
 * read back, refused with its name when it has the wrong size.
 */
#include "delivery/srs.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY 86400
/* 2023-11-14 22:13:20 UTC: day 19675, timestamp "G3" */
#define NOW ((int64_t)1700000000)

static unsigned char key[SRS_KEY_LEN];
static unsigned char key2[SRS_KEY_LEN];

static void keys_init(void)
{
	for (size_t i = 0; i < SRS_KEY_LEN; i++) {
		key[i] = (unsigned char)i;
		key2[i] = (unsigned char)(0xa5 ^ i);
	}
}

static int fwd(const unsigned char *k, const char *sender, const char *domain, int64_t now,
	       char *out, size_t len)
{
	return srs_forward(k, SRS_KEY_LEN, sender, domain, now, out, len);
}

static int rev(const unsigned char *k, const char *address, int64_t now, char *out, size_t len)
{
	return srs_reverse(k, SRS_KEY_LEN, address, now, out, len);
}

static void test_srs_known(void)
{
	char out[512];

	test_begin("srs: the addresses libsrs2 and Mail::SRS make");
	keys_init();
	test_assert(fwd(key, "User@orig.example", "fwd.test", NOW, out, sizeof(out)) == 0);
	test_assert_str(out, "SRS0=fxfh=G3=orig.example=User@fwd.test");
	test_assert(fwd(key, "SRS0=fxfh=G3=orig.example=user@hop.test", "fwd.test", NOW, out,
			sizeof(out)) == 0);
	test_assert_str(out, "SRS1=f2gF=hop.test==fxfh=G3=orig.example=user@fwd.test");
	/* the timestamp moves with the day, and the hash with it */
	test_assert(fwd(key, "User@orig.example", "fwd.test", NOW + DAY, out, sizeof(out)) == 0);
	test_assert(strncmp(out, "SRS0=", 5) == 0 && strncmp(out + 9, "=G4=", 4) == 0);
	test_assert(strcmp(out, "SRS0=fxfh=G4=orig.example=User@fwd.test") != 0);
	/* another secret, another hash */
	test_assert(fwd(key2, "User@orig.example", "fwd.test", NOW, out, sizeof(out)) == 0);
	test_assert(strncmp(out, "SRS0=fxfh=", 10) != 0 && strncmp(out + 9, "=G3=", 4) == 0);
	test_end();
}

static void test_srs_round_trip(void)
{
	static const char *const senders[] = {
	    "alice@example.org", "Bob.Smith@Sub.Example.COM", "a=b=c@x.example",
	    "+tag-me@x.example", "user@[192.0.2.1]",	      "\"a@b\"@quoted.example",
	};
	char out[512], back[512];

	test_begin("srs: forward then reverse, whatever the case on the way");
	keys_init();
	for (size_t i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
		test_assert(fwd(key, senders[i], "fwd.test", NOW, out, sizeof(out)) == 0);
		test_assert(rev(key, out, NOW, back, sizeof(back)) == 1);
		test_assert_str(back, senders[i]);
		/* some MTAs smash the case of the local part */
		for (char *p = out; *p != '\0'; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		test_assert(rev(key, out, NOW, back, sizeof(back)) == 1);
		for (char *p = out; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		test_assert(rev(key, out, NOW, back, sizeof(back)) == 1);
	}
	/* the separators libsrs2 reads after the tag */
	test_assert(rev(key, "SRS0+fxfh=G3=orig.example=User@fwd.test", NOW, back, sizeof(back)) ==
		    1);
	test_assert_str(back, "User@orig.example");
	test_assert(rev(key, "SRS0-fxfh=G3=orig.example=User@x", NOW, back, sizeof(back)) == 1);
	/* the domain the address arrived at is the caller's to check */
	test_assert(rev(key, "srs0=FXFH=g3=orig.example=User@elsewhere.test", NOW, back,
			sizeof(back)) == 1);
	test_assert_str(back, "User@orig.example");
	test_end();
}

static void test_srs_srs1(void)
{
	char s0[512], s1[512], s1b[512], back[512];

	test_begin("srs: SRS0 forwarded again is SRS1, and back");
	keys_init();
	/* hop.test (key) forwards first, fwd.test (key2) second */
	test_assert(fwd(key, "alice@orig.example", "hop.test", NOW, s0, sizeof(s0)) == 0);
	test_assert(fwd(key2, s0, "fwd.test", NOW, s1, sizeof(s1)) == 0);
	test_assert(strncmp(s1, "SRS1=", 5) == 0 && strstr(s1, "=hop.test==") == s1 + 9);
	/* its rest: the SRS0 local part after the tag, separator included */
	size_t tail = (size_t)(strchr(s0, '@') - (s0 + 4));
	test_assert(strncmp(s1 + 19, s0 + 4, tail) == 0 && s1[19 + tail] == '@');
	/* the second forwarder sends the bounce to the first one */
	test_assert(rev(key2, s1, NOW, back, sizeof(back)) == 1);
	test_assert_str(back, s0);
	test_assert(rev(key, back, NOW, s1b, sizeof(s1b)) == 1);
	test_assert_str(s1b, "alice@orig.example");
	/* only the first hop checks the age: SRS1 has no timestamp of its own */
	test_assert(rev(key2, s1, NOW + 400 * DAY, back, sizeof(back)) == 1);
	test_assert_str(back, s0);
	test_assert(rev(key, s0, NOW + 400 * DAY, back, sizeof(back)) == -1);
	/* a third forwarder keeps the first hop and hashes again */
	test_assert(fwd(key, s1, "third.test", NOW, s1b, sizeof(s1b)) == 0);
	test_assert(strncmp(s1b, "SRS1=", 5) == 0 && strstr(s1b, "=hop.test==") == s1b + 9);
	test_assert(strncmp(s1b + 5, s1 + 5, 4) != 0);
	test_assert(rev(key, s1b, NOW, back, sizeof(back)) == 1);
	test_assert_str(back, s0);
	/* the SRS1 hash is checked: another secret, a changed hop, a forged hash */
	test_assert(rev(key, s1, NOW, back, sizeof(back)) == -1);
	char forged[512];
	snprintf(forged, sizeof(forged), "%s", s1);
	memcpy(strstr(forged, "hop.test"), "hoq", 3);
	test_assert(rev(key2, forged, NOW, back, sizeof(back)) == -1);
	snprintf(forged, sizeof(forged), "%s", s1);
	forged[5] = forged[5] == 'A' ? 'B' : 'A';
	test_assert(rev(key2, forged, NOW, back, sizeof(back)) == -1);
	/* a sender with an SRS1 tag that is no SRS1 address is taken as it is */
	test_assert(fwd(key, "SRS1=nohost@orig.example", "fwd.test", NOW, s1b, sizeof(s1b)) == 0);
	test_assert(strncmp(s1b, "SRS0=", 5) == 0);
	test_assert(rev(key, s1b, NOW, back, sizeof(back)) == 1);
	test_assert_str(back, "SRS1=nohost@orig.example");
	test_end();
}

static void test_srs_forged(void)
{
	char out[512], back[512], bad[600];

	test_begin("srs: forged hashes are refused");
	keys_init();
	test_assert(fwd(key, "alice@orig.example", "fwd.test", NOW, out, sizeof(out)) == 0);
	/* each hash character changed in turn (to a letter of another value
	   whatever the case) */
	for (size_t i = 5; i < 9; i++) {
		snprintf(bad, sizeof(bad), "%s", out);
		bad[i] = (bad[i] == 'q' || bad[i] == 'Q') ? 'z' : 'q';
		test_assert(rev(key, bad, NOW, back, sizeof(back)) == -1);
	}
	/* another domain or user under the same hash */
	snprintf(bad, sizeof(bad), "%.13s=evil.example=alice@fwd.test", out);
	test_assert(rev(key, bad, NOW, back, sizeof(back)) == -1);
	snprintf(bad, sizeof(bad), "%.13s=orig.example=mallory@fwd.test", out);
	test_assert(rev(key, bad, NOW, back, sizeof(back)) == -1);
	/* a timestamp moved to look younger */
	snprintf(bad, sizeof(bad), "%s", out);
	bad[11] = bad[11] == 'A' ? 'B' : 'A';
	test_assert(rev(key, bad, NOW, back, sizeof(back)) == -1);
	/* another secret */
	test_assert(rev(key2, out, NOW, back, sizeof(back)) == -1);
	/* hashes longer or shorter than 4 */
	snprintf(bad, sizeof(bad), "SRS0=%.4sA%s", out + 5, out + 9);
	test_assert(rev(key, bad, NOW, back, sizeof(back)) == -1);
	snprintf(bad, sizeof(bad), "SRS0=%.3s%s", out + 5, out + 9);
	test_assert(rev(key, bad, NOW, back, sizeof(back)) == -1);
	test_assert(rev(key, "SRS0==G3=orig.example=alice@fwd.test", NOW, back, sizeof(back)) ==
		    -1);
	test_end();
}

static void test_srs_age(void)
{
	char out[512], back[512];

	test_begin("srs: at most 21 days old, with the 1024-day wrap");
	keys_init();
	test_assert(fwd(key, "alice@orig.example", "fwd.test", NOW, out, sizeof(out)) == 0);
	test_assert(rev(key, out, NOW + SRS_MAX_AGE_DAYS * DAY, back, sizeof(back)) == 1);
	test_assert(rev(key, out, NOW + (SRS_MAX_AGE_DAYS + 1) * DAY, back, sizeof(back)) == -1);
	test_assert(rev(key, out, NOW + 500 * DAY, back, sizeof(back)) == -1);
	/* from tomorrow: taken as 1023 days old */
	test_assert(rev(key, out, NOW - DAY, back, sizeof(back)) == -1);
	/* the timestamp holds the day modulo 1024: a whole turn later it looks
	   fresh again (libsrs2 and Mail::SRS alike) */
	test_assert(rev(key, out, NOW + 1024 * DAY, back, sizeof(back)) == 1);

	/* made on day 1023 of a turn ("77"), reversed in the next turn */
	int64_t day1023 = (int64_t)(19456 + 1023) * DAY + 3600;
	test_assert(fwd(key, "alice@orig.example", "fwd.test", day1023, out, sizeof(out)) == 0);
	test_assert(strncmp(out + 9, "=77=", 4) == 0);
	test_assert(rev(key, out, day1023 + 5 * DAY, back, sizeof(back)) == 1);
	test_assert_str(back, "alice@orig.example");
	test_assert(rev(key, out, day1023 + SRS_MAX_AGE_DAYS * DAY, back, sizeof(back)) == 1);
	test_assert(rev(key, out, day1023 + (SRS_MAX_AGE_DAYS + 1) * DAY, back, sizeof(back)) ==
		    -1);
	/* the day starts at midnight UTC: 23:59:59 and 00:00:00 */
	int64_t midnight = (int64_t)19675 * DAY;
	test_assert(fwd(key, "a@b.example", "fwd.test", midnight - 1, out, sizeof(out)) == 0);
	test_assert(strncmp(out + 9, "=G2=", 4) == 0);
	test_assert(fwd(key, "a@b.example", "fwd.test", midnight, out, sizeof(out)) == 0);
	test_assert(strncmp(out + 9, "=G3=", 4) == 0);
	/* before the epoch too (no undefined arithmetic) */
	test_assert(fwd(key, "a@b.example", "fwd.test", -1, out, sizeof(out)) == 0);
	test_assert(strncmp(out + 9, "=77=", 4) == 0);
	test_assert(rev(key, out, -1, back, sizeof(back)) == 1);
	test_assert(rev(key, out, 0, back, sizeof(back)) == 1);
	test_end();
}

static void test_srs_malformed(void)
{
	static const char *const not_srs[] = {
	    "",
	    "alice@example.org",
	    "SRS0",
	    "SRS0@fwd.test",
	    "SRS2=a=b=c=d@x",
	    "SRSX=a=b@x",
	    "SRS0_hash=G3=a=b@x",
	    "xSRS0=a=b=c=d@x",
	    "SRS@x",
	    "SRS0",
	    "@fwd.test",
	    "SRS",
	};
	static const char *const bad[] = {
	    "SRS0=@fwd.test",
	    "SRS0=fxfh@fwd.test",
	    "SRS0=fxfh=G3@fwd.test",
	    "SRS0=fxfh=G3=orig.example@fwd.test",
	    "SRS0=fxfh=G3=orig.example=@fwd.test",
	    "SRS0=fxfh=G3==User@fwd.test",
	    "SRS0=fxfh=G=orig.example=User@fwd.test",
	    "SRS0=fxfh=G33=orig.example=User@fwd.test",
	    "SRS0=fxfh=G1=orig.example=User@fwd.test", /* '1' is no base32 digit */
	    "SRS0=fxfh=G3=orig.example=User@",
	    "SRS0=fxfh=G3=orig.example=User",
	    "SRS0=fxfh=G3=orig example=User@fwd.test",
	    "SRS0=fxfh=G3=orig.example=Us\r\ner@fwd.test",
	    "SRS0=fxfh=G3=orig.example=User@fwd\n.test",
	    "SRS0=fxfh=G3=orig.example=User\x7f@fwd.test",
	    "SRS0=====@fwd.test",
	    "SRS0=\xff\xfe\xfd\xfc=G3=orig.example=User@fwd.test",
	    "SRS1=@fwd.test",
	    "SRS1=f2gF@fwd.test",
	    "SRS1=f2gF=hop.test@fwd.test",
	    "SRS1=f2gF=hop.test=@fwd.test",
	    "SRS1=f2gF==fxfh=G3=orig.example=user@fwd.test",
	    "SRS1=f2gF=hop.test=xfxfh=G3=orig.example=user@fwd.test",
	    "SRS1=f2gF=hop.test==@fwd.test",
	    "SRS1=f2gF=hop.test==fxfh=G3=orig.example=user@",
	};
	char back[512];

	test_begin("srs: hostile and malformed addresses");
	keys_init();
	for (size_t i = 0; i < sizeof(not_srs) / sizeof(not_srs[0]); i++) {
		if (rev(key, not_srs[i], NOW, back, sizeof(back)) != 0)
			printf("  not SRS: %s\n", not_srs[i]);
		test_assert(rev(key, not_srs[i], NOW, back, sizeof(back)) == 0);
	}
	test_assert(rev(key, NULL, NOW, back, sizeof(back)) == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (rev(key, bad[i], NOW, back, sizeof(back)) != -1)
			printf("  malformed: %s\n", bad[i]);
		test_assert(rev(key, bad[i], NOW, back, sizeof(back)) == -1);
	}
	/* the genuine ones next to them */
	test_assert(rev(key, "SRS0=fxfh=G3=orig.example=User@fwd.test", NOW, back, sizeof(back)) ==
		    1);
	test_assert(rev(key, "SRS1=f2gF=hop.test==fxfh=G3=orig.example=user@fwd.test", NOW, back,
			sizeof(back)) == 1);
	test_assert_str(back, "SRS0=fxfh=G3=orig.example=user@hop.test");

	/* a very long field is read to its end and no further */
	size_t big = 100000;
	char *huge = malloc(big + 64), *out = malloc(big + 128);
	memcpy(huge, "SRS0=fxfh=G3=orig.example=", 26);
	memset(huge + 26, 'u', big);
	strcpy(huge + 26 + big, "@fwd.test");
	test_assert(rev(key, huge, NOW, back, sizeof(back)) == -1);
	test_assert(fwd(key, huge + 26, "fwd.test", NOW, out, big + 128) == 1);
	test_assert(fwd(key, huge + 26, "other.test", NOW, out, big + 128) == 0);
	test_assert(rev(key, out, NOW, huge, big + 64) == 1);
	test_assert(strlen(huge) == big + strlen("@fwd.test"));
	free(huge);
	free(out);
	test_end();
}

static void test_srs_buffers(void)
{
	char out[512], back[512];
	const char *want = "SRS0=fxfh=G3=orig.example=User@fwd.test";
	size_t n = strlen(want);

	test_begin("srs: output buffers exactly big enough, one octet short");
	keys_init();
	memset(out, 'X', sizeof(out));
	test_assert(fwd(key, "User@orig.example", "fwd.test", NOW, out, n + 1) == 0);
	test_assert_str(out, want);
	test_assert(out[n + 1] == 'X');
	test_assert(fwd(key, "User@orig.example", "fwd.test", NOW, out, n) == -1);
	test_assert(fwd(key, "User@orig.example", "fwd.test", NOW, out, 1) == -1);
	test_assert(fwd(key, "User@orig.example", "fwd.test", NOW, out, 0) == -1);

	const char *orig = "User@orig.example";
	memset(back, 'X', sizeof(back));
	test_assert(rev(key, want, NOW, back, strlen(orig) + 1) == 1);
	test_assert_str(back, orig);
	test_assert(back[strlen(orig) + 1] == 'X');
	test_assert(rev(key, want, NOW, back, strlen(orig)) == -1);
	test_assert(rev(key, want, NOW, back, 0) == -1);
	/* SRS1 reverses to something longer than its own tail */
	const char *s1 = "SRS1=f2gF=hop.test==fxfh=G3=orig.example=user@fwd.test";
	const char *s0 = "SRS0=fxfh=G3=orig.example=user@hop.test";
	test_assert(rev(key, s1, NOW, back, strlen(s0) + 1) == 1);
	test_assert(rev(key, s1, NOW, back, strlen(s0)) == -1);
	/* our own sender and the null sender must fit too */
	test_assert(fwd(key, "me@fwd.test", "fwd.test", NOW, out, 11) == -1);
	test_assert(fwd(key, "me@fwd.test", "fwd.test", NOW, out, 12) == 1);
	test_assert(fwd(key, "", "fwd.test", NOW, out, 0) == -1);
	test_end();
}

static void test_srs_not_rewritten(void)
{
	char out[512];

	test_begin("srs: the null sender, our own senders, no address");
	keys_init();
	strcpy(out, "junk");
	test_assert(fwd(key, "", "fwd.test", NOW, out, sizeof(out)) == 1);
	test_assert_str(out, "");
	test_assert(fwd(key, "bob@fwd.test", "fwd.test", NOW, out, sizeof(out)) == 1);
	test_assert_str(out, "bob@fwd.test");
	test_assert(fwd(key, "Bob@FWD.Test", "fwd.test", NOW, out, sizeof(out)) == 1);
	test_assert_str(out, "Bob@FWD.Test");
	/* a subdomain is another domain */
	test_assert(fwd(key, "bob@sub.fwd.test", "fwd.test", NOW, out, sizeof(out)) == 0);
	/* no address */
	static const char *const bad[] = {
	    "bob",
	    "@orig.example",
	    "bob@",
	    "bob@orig=example",
	    "bob@orig example",
	    "bob\r\n@orig.example",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		test_assert(fwd(key, bad[i], "fwd.test", NOW, out, sizeof(out)) == -1);
	test_assert(fwd(key, NULL, "fwd.test", NOW, out, sizeof(out)) == -1);
	test_assert(fwd(key, "bob@orig.example", "", NOW, out, sizeof(out)) == -1);
	test_assert(fwd(key, "bob@orig.example", "fw=d.test", NOW, out, sizeof(out)) == -1);
	test_end();
}

static void test_srs_key_file(void)
{
	char *dir = test_tmpdir();
	char path[4096], err[512];
	unsigned char k1[SRS_KEY_LEN], k2[SRS_KEY_LEN], zero[SRS_KEY_LEN] = {0};
	struct stat st;

	test_begin("srs: the secret file");
	snprintf(path, sizeof(path), "%s/srs.key", dir);
	test_assert(srs_key_load(dir, k1, err, sizeof(err)) == 0);
	test_assert(stat(path, &st) == 0 && S_ISREG(st.st_mode));
	test_assert((st.st_mode & 07777) == 0600);
	test_assert(st.st_size == SRS_KEY_LEN);
	test_assert(memcmp(k1, zero, SRS_KEY_LEN) != 0);
	/* read back, not made again */
	test_assert(srs_key_load(dir, k2, err, sizeof(err)) == 0);
	test_assert(memcmp(k1, k2, SRS_KEY_LEN) == 0);
	FILE *f = fopen(path, "rb");
	test_assert(f != NULL && fread(k2, 1, SRS_KEY_LEN, f) == SRS_KEY_LEN);
	fclose(f);
	test_assert(memcmp(k1, k2, SRS_KEY_LEN) == 0);
	/* nothing else left in the folder */
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", dir);
	test_assert(system(cmd) == 0);

	/* the wrong size: refused, the file named, and left as it is */
	f = fopen(path, "ab");
	fputc('x', f);
	fclose(f);
	err[0] = '\0';
	test_assert(srs_key_load(dir, k2, err, sizeof(err)) == -1);
	test_assert(strstr(err, path) != NULL && strstr(err, "33") != NULL);
	test_assert(stat(path, &st) == 0 && st.st_size == SRS_KEY_LEN + 1);
	test_assert(truncate(path, 0) == 0);
	test_assert(srs_key_load(dir, k2, err, sizeof(err)) == -1);
	test_assert(strstr(err, path) != NULL);
	/* not a file */
	test_assert(unlink(path) == 0 && mkdir(path, 0700) == 0);
	test_assert(srs_key_load(dir, k2, err, sizeof(err)) == -1);
	test_assert(strstr(err, path) != NULL);
	test_assert(rmdir(path) == 0);
	/* a folder that is not there: the error names where */
	char missing[4200];
	snprintf(missing, sizeof(missing), "%s/no/such", dir);
	test_assert(srs_key_load(missing, k2, err, sizeof(err)) == -1);
	test_assert(strstr(err, missing) != NULL);
	/* a tiny error buffer is cut, never overrun */
	char small[8];
	memset(small, 'X', sizeof(small));
	test_assert(srs_key_load(missing, k2, small, 4) == -1);
	test_assert(strlen(small) == 3 && small[4] == 'X');
	/* a fresh key each time the file is made */
	test_assert(srs_key_load(dir, k2, err, sizeof(err)) == 0);
	test_assert(memcmp(k1, k2, SRS_KEY_LEN) != 0);
	test_end();
	test_rmtree(dir);
}

int main(void)
{
	return test_run((void (*[])(void)){
	    test_srs_known, test_srs_round_trip, test_srs_srs1, test_srs_forged, test_srs_age,
	    test_srs_malformed, test_srs_buffers, test_srs_not_rewritten, test_srs_key_file, NULL});
}
