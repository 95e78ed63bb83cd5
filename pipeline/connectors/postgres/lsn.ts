// Log sequence numbers: Postgres prints them as "X/Y" (two 32-bit hex halves); trueup stores
// them as staging versions (bigint) and compares them as bigints.

export function lsnToBigInt(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`not an LSN: ${JSON.stringify(lsn)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function bigIntToLsn(v: bigint): string {
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function maxLsn(a: string, b: string): string {
  return lsnToBigInt(a) >= lsnToBigInt(b) ? a : b;
}
