#include "test.h"
int main(void)
{
	char buf[16];
	int fd = xbuf_create(4096, 4096, 0, "smoke");
	struct evl_file *f;
	struct evl_xbuf *xb;

	CHECK(fd >= 0);
	xb = evl_get_xbuf(fd, &f);
	CHECK(xb);
	CHECK(evl_write_xbuf(xb, "hello", 5, 0) == 5);
	CHECK(xbuf_read(fd, buf, 5) == 5);
	CHECK(!memcmp(buf, "hello", 5));
	CHECK(xbuf_write(fd, "world", 5) == 5);
	CHECK(evl_read_xbuf(xb, buf, 5, 0) == 5);
	CHECK(!memcmp(buf, "world", 5));
	evl_put_xbuf(f);
	CHECK(xbuf_close(fd) == 0);
	return T_EXIT_PASS;
}
