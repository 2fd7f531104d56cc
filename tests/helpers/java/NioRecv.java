/*
 * NioRecv - a JVM program reading a socket with NIO, for the daemon test
 * of #23: SocketChannel.read into a direct ByteBuffer (the JDK's read()
 * goes through libc, so the shim serves it), every byte checked against
 * the pattern stream (tests/helpers/pattern.h, the same arithmetic).
 *
 *   java -cp DIR NioRecv PORT BYTES [READ_SIZE [nocheck]]
 * Prints "bytes=N ok" and exits 0 when the stream is intact; with nocheck
 * (bench/daemons.sh) the bytes are only counted, and the line adds the
 * reading thread's CPU time over the transfer ("cpu_ns=") and its wall
 * time ("wall_ns="), the JVM's start left out.
 */
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;

public class NioRecv {
	static final long MUL = 0x9E3779B97F4A7C15L, ADD = 0x632BE59BD9B4E019L;

	static int patByte(long i) {
		long w = (i >>> 3) * MUL + ADD;
		return (int) ((w >>> ((i & 7) * 8)) & 0xff);
	}

	public static void main(String[] a) throws Exception {
		int port = Integer.parseInt(a[0]);
		long want = Long.parseLong(a[1]);
		int size = a.length > 2 ? Integer.parseInt(a[2]) : 1 << 20;
		boolean check = a.length <= 3 || !a[3].equals("nocheck");
		ByteBuffer b = ByteBuffer.allocateDirect(size).order(ByteOrder.LITTLE_ENDIAN);
		ThreadMXBean mx = ManagementFactory.getThreadMXBean();
		long at = 0, cpu0 = mx.getCurrentThreadCpuTime(), t0 = System.nanoTime();
		try (SocketChannel ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
			for (;;) {
				b.clear();
				int r = ch.read(b);
				if (r < 0)
					break;
				if (!check) {
					at += r;
					continue;
				}
				for (int i = 0; i < r; i++, at++)
					if ((b.get(i) & 0xff) != patByte(at)) {
						System.out.println("MISMATCH at " + at);
						System.exit(1);
					}
			}
		}
		if (at != want) {
			System.out.println("bytes=" + at + " expected " + want);
			System.exit(1);
		}
		long cpu = mx.getCurrentThreadCpuTime() - cpu0, wall = System.nanoTime() - t0;
		System.out.println("bytes=" + at + " ok" + (check ? "" : " cpu_ns=" + cpu + " wall_ns=" + wall));
	}
}
