/**
 * `npm run staff:add -- <email> [--password <password>] [--remove] [--db-url <url>]`
 *
 * Makes a user store staff (app_metadata.store_role = "staff", through
 * admin.set_staff) so they can sign in to the dashboard. Against the local
 * stack (`npm start`, database on 127.0.0.1:54322 by default) it also creates
 * the user when it does not exist yet, with a bcrypt password the local Auth
 * stand-in accepts (`--password` is then required), or resets the password
 * when one is given.
 *
 * Hosted Supabase: create the user in the dashboard (Authentication > Add
 * user) or with `auth.admin.createUser`, then either run this with
 * `--db-url` set to the project's database URL, or run
 * `select admin.set_staff('owner@example.com');` in the SQL editor. The role
 * reaches the user's access token at the next sign-in or token refresh.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';

export interface StaffResult {
  id: string;
  email: string;
  staff: boolean;
  created: boolean;
}

export function defaultDbUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.STAFF_DB_URL ?? env.SUPABASE_DB_URL ?? `postgresql://postgres:postgres@127.0.0.1:${env.STACK_DB_PORT || '54322'}/postgres`;
}

export async function addStaff(dbUrl: string, email: string, opts: { password?: string; remove?: boolean } = {}): Promise<StaffResult> {
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new Error(`"${email}" is not an email address.`);
  if (opts.password !== undefined && opts.password.length < 6) throw new Error("The password must have at least 6 characters (Supabase Auth's minimum).");
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    await client.query('begin');
    const found = await client.query<{ id: string }>(
      'select id from auth.users where lower(email) = lower($1) and not coalesce(is_anonymous, false) for update',
      [email],
    );
    let created = false;
    if (!found.rows[0]) {
      if (opts.remove) throw new Error(`No user with email ${email}.`);
      const hosted = (await client.query(`select to_regclass('auth.identities') is not null as hosted`)).rows[0] as { hosted: boolean };
      if (hosted.hosted) {
        throw new Error(
          `No user with email ${email}. On a Supabase project create the user first (dashboard: Authentication > Add user, or auth.admin.createUser), then run this again.`,
        );
      }
      if (!opts.password) throw new Error(`No user with email ${email} yet: give --password <password> to create one.`);
      await client.query(
        `insert into auth.users (id, aud, role, email, encrypted_password, raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at)
         values (gen_random_uuid(), 'authenticated', 'authenticated', lower($1), extensions.crypt($2, extensions.gen_salt('bf', 10)),
                 '{"provider": "email", "providers": ["email"]}'::jsonb, '{}'::jsonb, false, now(), now())`,
        [email, opts.password],
      );
      created = true;
    } else if (opts.password) {
      await client.query(`update auth.users set encrypted_password = extensions.crypt($2, extensions.gen_salt('bf', 10)), updated_at = now() where id = $1`, [
        found.rows[0].id,
        opts.password,
      ]);
    }
    const { rows } = await client.query<{ r: { id: string; email: string; staff: boolean } }>('select admin.set_staff($1, $2) as r', [email, !opts.remove]);
    await client.query('commit');
    return { ...rows[0]!.r, created };
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      password: { type: 'string' },
      remove: { type: 'boolean', default: false },
      'db-url': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const email = positionals[0];
  if (values.help || !email || positionals.length > 1) {
    console.log('usage: npm run staff:add -- <email> [--password <password>] [--remove] [--db-url <postgres url>]');
    process.exit(values.help ? 0 : 1);
  }
  const dbUrl = values['db-url'] ?? defaultDbUrl();
  const result = await addStaff(dbUrl, email, { password: values.password, remove: values.remove });
  const where = dbUrl.replace(/\/\/[^@]*@/, '//');
  if (!result.staff) console.log(`${result.email} is no longer store staff (${where}).`);
  else {
    console.log(`${result.email} is store staff${result.created ? ' (user created)' : ''} in ${where}.`);
    console.log('Sign in to the dashboard with this email and password (a session opened before gets the role at its next token refresh).');
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((err: unknown) => {
    const e = err as Error & { code?: string };
    const hint = e.code === 'ECONNREFUSED' ? ' Is the local stack running (npm start)? Or pass --db-url.' : '';
    console.error(`staff:add: ${e.message}${hint}`);
    process.exit(1);
  });
}
