/** Library resolution order (DESIGN §4): MLX_C_LIBRARY, then a system libmlxc, then the compatibility library. */
import { expect, test } from "bun:test";
import { candidateLibraries, COMPAT_LIBRARY, openLibrary } from "bun-ffi-mlx-bindings";

test("MLX_C_LIBRARY comes first, the compatibility library last", () => {
  const c = candidateLibraries({ MLX_C_LIBRARY: "/opt/custom/libmlxc.so" });
  expect(c[0]).toEqual({ path: "/opt/custom/libmlxc.so", source: "env" });
  expect(c.at(-1)).toEqual({ path: COMPAT_LIBRARY, source: "compat" });
});

test("a missing MLX_C_LIBRARY is reported, and the next candidate is used", () => {
  const lib = openLibrary({ MLX_C_LIBRARY: "/nonexistent/libmlxc.so" });
  expect(lib.source).not.toBe("env");
  lib.close();
});

test("a library without the MLX C API is refused with the missing symbol named; none at all says how to build", () => {
  const libc = "/lib/x86_64-linux-gnu/libc.so.6";
  expect(() => openLibrary({}, [{ path: libc, source: "env" }])).toThrow(new RegExp(`${libc}: .*mlx_`));
  expect(() => openLibrary({}, [])).toThrow("bash scripts/setup.sh");
});
