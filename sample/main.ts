// `npm start`: the two samples, kv and a heartbeat writing into it, and how to reach them with nc.
import { Client } from '../src/index.js';
import { Heartbeat } from './heartbeat.js';
import { Kv } from './kv.js';

const kv = new Kv({ port: Number(process.env.KV_PORT ?? 0) });
await kv.start();
const heartbeat = new Heartbeat({ findKv: () => Client.connect({ port: kv.port }) });
await heartbeat.start();
console.log(`kv        on 127.0.0.1:${kv.port}   try: printf 'all\\n' | nc -N 127.0.0.1 ${kv.port}`);
console.log(`heartbeat on 127.0.0.1:${heartbeat.port}   try: printf 'status\\n' | nc -N 127.0.0.1 ${heartbeat.port}`);
const stop = (): void => void Promise.all([heartbeat.stop(), kv.stop()]).then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
