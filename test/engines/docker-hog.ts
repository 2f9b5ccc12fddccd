/**
 * A stand-in agent that takes memory until the kernel stops it: the docker engine tests
 * run it under a small memory limit to see an OOM kill reported. Plain Node, no imports
 * from Slipway, so a container can run it.
 */
const hoard: Buffer[] = [];
setInterval(() => {
  // 8 MiB a tick, touched so that the pages are really used.
  hoard.push(Buffer.alloc(8 * 1024 * 1024, 1));
}, 10);
