/* A library built twice with different PAD (unload.test.sh): the same
 * code at the same offsets, with a frame of a different size, so that a
 * return address in one is the same return address in the other. */
volatile int unloadlib_sink;

__attribute__((noinline)) void unloadlib_call(void (*fn)(void))
{
	volatile char pad[PAD];
	pad[0] = 1;
	fn();
	unloadlib_sink += pad[0];
}
