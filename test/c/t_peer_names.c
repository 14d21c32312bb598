// SPDX-License-Identifier: MIT
/*
 * Issue 10.5: a creator is killed (its /dev/shm/xbuf.<name> stays, with
 * its lock gone), then two processes create that name at once, 200
 * rounds. Exactly one must win each round; once the loser is gone, the
 * name opens the winner's element (told apart by its inbound size), and
 * when the winner closes, the name goes with it.
 */
#include "peer.h"

#define ROUNDS	200

static void creator(const char *name, int go, int res, int idx)
{
	char c, msg[2];
	int fd;

	if (read(go, &c, 1) != 1)
		_exit(2);
	fd = xbuf_create(4096 * (size_t)(idx + 1), 4096, XBUF_CLONE_PUBLIC, "%s", name);
	msg[0] = fd >= 0 ? 'w' : fd == -EEXIST ? 'l' : 'e';
	msg[1] = (char)idx;
	(void)!write(res, msg, 2);	/* atomic: PIPE_BUF */
	if (fd < 0)
		_exit(0);	/* the loser's exit: nothing of the winner's may go with it */
	if (read(go, &c, 1) != 1)	/* the parent says when */
		_exit(3);
	xbuf_close(fd);
	_exit(0);
}

int main(void)
{
	const char *name = unique_name("names");
	int round, stale = 0;

	time_limit(25);
	for (round = 0; round < ROUNDS; round++) {
		int go[2], res[2], ready[2], winner = -1, i, ofd, status;
		struct xbuf_rings rg;
		pid_t pid[2], dead;
		char c;

		/* A creator killed while its element lives: the file stays, unlocked. */
		CHECK(pipe(ready) == 0);
		dead = fork();
		CHECK(dead >= 0);
		if (dead == 0) {
			if (xbuf_create(4096, 4096, XBUF_CLONE_PUBLIC, "%s", name) < 0)
				_exit(1);
			(void)!write(ready[1], "r", 1);
			pause();
		}
		CHECK(read(ready[0], &c, 1) == 1);
		kill(dead, SIGKILL);
		CHECK(waitpid(dead, &status, 0) == dead);
		close(ready[0]);
		close(ready[1]);
		stale += stale_files(name);
		CHECK_ERR(xbuf_open(name, 0), ENOENT);

		CHECK(pipe(res) == 0);
		for (i = 0; i < 2; i++) {
			CHECK(pipe(&go[0]) == 0);
			pid[i] = fork();
			CHECK(pid[i] >= 0);
			if (pid[i] == 0) {
				close(go[1]);
				creator(name, go[0], res[1], i);
			}
			close(go[0]);
			ready[i] = go[1];	/* reused: the go pipe of creator i */
		}
		for (i = 0; i < 2; i++)
			CHECK(write(ready[i], "g", 1) == 1);
		for (i = 0; i < 2; i++) {
			char msg[2];

			CHECK(read(res[0], msg, 2) == 2);
			CHECK(msg[0] == 'w' || msg[0] == 'l');
			if (msg[0] == 'w') {
				CHECK(winner < 0);	/* two winners */
				winner = msg[1];
			}
		}
		CHECK(winner == 0 || winner == 1);
		/* The loser's exit must leave the winner's name. */
		CHECK(waitpid(pid[!winner], &status, 0) == pid[!winner]);
		ofd = xbuf_open(name, 0);
		CHECK(ofd >= 0);
		CHECK(xbuf_rings(ofd, &rg) == 0);
		CHECK_EQ(rg.isize, 4096 * (winner + 1));
		CHECK(xbuf_close(ofd) == 0);
		CHECK(write(ready[winner], "c", 1) == 1);
		CHECK(waitpid(pid[winner], &status, 0) == pid[winner] && WIFEXITED(status) && !WEXITSTATUS(status));
		CHECK_ERR(xbuf_open(name, 0), ENOENT);
		CHECK_EQ(stale_files(name), 0);
		for (i = 0; i < 2; i++)
			close(ready[i]);
		close(res[0]);
		close(res[1]);
	}
	CHECK_EQ(stale, ROUNDS);	/* each killed creator left its file, until the name was taken again */
	return T_EXIT_PASS;
}
