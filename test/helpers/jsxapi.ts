/**
 * The rejection of a jsxapi request. jsxapi's backend turns its error classes
 * (IllegalValueError, InvalidPathError, ...) into JSON-RPC error objects, so the class
 * shows as its code.
 */
export async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string; data: unknown }> {
  try {
    await p;
  } catch (e) {
    return e as { code: number; message: string; data: unknown };
  }
  throw new Error('expected the request to be rejected');
}
