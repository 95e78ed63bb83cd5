// Marks a stream as read right now, the way a running reader does: a session advisory lock on
// (tenant, 'cdc <system>/<stream>'), the claim that in-flight confirmation looks for.
import pg from 'pg';

export async function holdLiveStreams(
  url: string,
  tenant: string,
  streams: readonly { system: string; stream: string }[],
): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  for (const s of streams)
    await client.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', [
      tenant,
      `cdc ${s.system}/${s.stream}`,
    ]);
  return () => client.end();
}
