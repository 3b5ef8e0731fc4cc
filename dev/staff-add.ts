/**
 * `npm run staff:add -- <email> [--password <password>] [--existing] [--remove] [--db-url <url>]`
 *
 * Makes a user store staff (app_metadata.store_role = "staff", through
 * admin.set_staff) so they can sign in to the dashboard. Against the local
 * stack (`npm start`, database on 127.0.0.1:54322 by default) it also creates
 * the user when it does not exist yet, with a bcrypt password the local Auth
 * stand-in accepts (`--password` is then required) and its address
 * confirmed (whoever runs this chose the password).
 *
 * Safe by default against an account taken before it existed: with email
 * confirmation off (`supabase start` and `npm start` have it off, and then
 * Supabase Auth confirms every sign-up at once) anyone can sign up with the
 * owner's address first. So an account that already exists and is not staff
 * yet is refused unless `--existing` says its owner checked it is theirs;
 * `--password` then also resets its password. admin.set_staff refuses an
 * address that is not confirmed, and granting the role signs out every
 * session of the account, so whoever else held one (or knew the old
 * password) is out. Re-running it for a member of staff (to reset the
 * password) needs no flag.
 *
 * Hosted Supabase: create the user in the dashboard (Authentication > Add
 * user) or with `auth.admin.createUser`, then either run this with
 * `--existing --db-url <the project's database URL>`, or run
 * `select admin.set_staff('owner@example.com');` in the SQL editor. The role
 * reaches the user's access token at their next sign-in.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';

export interface StaffResult {
  id: string;
  email: string;
  staff: boolean;
  created: boolean;
  /** Sessions of the account signed out by the grant. */
  sessions_ended: number;
}

export interface StaffOptions {
  password?: string;
  remove?: boolean;
  /** The account already exists and its owner checked it is theirs. */
  existing?: boolean;
}

export function defaultDbUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.STAFF_DB_URL ?? env.SUPABASE_DB_URL ?? `postgresql://postgres:postgres@127.0.0.1:${env.STACK_DB_PORT || '54322'}/postgres`;
}

/** Why an existing account is refused without --existing: the takeover it prevents, and what to do. */
export function existingAccountMessage(email: string): string {
  return `${email} already has an account, and staff:add did not create it. With email confirmation off (npm start, and supabase start by default) ` +
    'anyone can sign up with any address, so it may not be yours. If it is (you created it in the dashboard, or signed up with it and can sign in), ' +
    'run this again with --existing; add --password <new password> to reset its password too, which locks out anyone else who knew the old one. ' +
    'Granting the role signs out every session of the account.';
}

export async function addStaff(dbUrl: string, email: string, opts: StaffOptions = {}): Promise<StaffResult> {
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new Error(`"${email}" is not an email address.`);
  if (opts.password !== undefined && opts.password.length < 6) throw new Error("The password must have at least 6 characters (Supabase Auth's minimum).");
  if (opts.remove && opts.password !== undefined) throw new Error('--remove takes no --password: it only takes the role away.');
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    await client.query('begin');
    const found = await client.query<{ id: string; staff: boolean }>(
      `select id, coalesce(raw_app_meta_data ->> 'store_role' = 'staff', false) as staff
         from auth.users where lower(email) = lower($1) and not coalesce(is_anonymous, false) for update`,
      [email],
    );
    const user = found.rows[0];
    let created = false;
    if (!user) {
      if (opts.remove) throw new Error(`No user with email ${email}.`);
      const hosted = (await client.query(`select to_regclass('auth.identities') is not null as hosted`)).rows[0] as { hosted: boolean };
      if (hosted.hosted) {
        throw new Error(
          `No user with email ${email}. On a Supabase project create the user first (dashboard: Authentication > Add user, or auth.admin.createUser), then run this again with --existing.`,
        );
      }
      if (!opts.password) throw new Error(`No user with email ${email} yet: give --password <password> to create one.`);
      await client.query(
        `insert into auth.users (id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at)
         values (gen_random_uuid(), 'authenticated', 'authenticated', lower($1), extensions.crypt($2, extensions.gen_salt('bf', 10)), now(),
                 '{"provider": "email", "providers": ["email"]}'::jsonb, '{}'::jsonb, false, now(), now())`,
        [email, opts.password],
      );
      created = true;
    } else if (!opts.remove && !user.staff && !opts.existing) {
      throw new Error(existingAccountMessage(email));
    } else if (opts.password) {
      // admin.set_staff below signs out every session of the account.
      await client.query(`update auth.users set encrypted_password = extensions.crypt($2, extensions.gen_salt('bf', 10)), updated_at = now() where id = $1`, [
        user.id,
        opts.password,
      ]);
    }
    const { rows } = await client
      .query<{ r: { id: string; email: string; staff: boolean; sessions_ended?: number } }>('select admin.set_staff($1, $2) as r', [email, !opts.remove])
      .catch((err: Error & { code?: string; hint?: string }) => {
        throw err.code === 'CKA02' ? new Error(`${err.message}. ${err.hint ?? ''}`.trim()) : err;
      });
    await client.query('commit');
    const r = rows[0]!.r;
    return { id: r.id, email: r.email, staff: r.staff, created, sessions_ended: r.sessions_ended ?? 0 };
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
      existing: { type: 'boolean', default: false },
      'db-url': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const email = positionals[0];
  if (values.help || !email || positionals.length > 1) {
    console.log('usage: npm run staff:add -- <email> [--password <password>] [--existing] [--remove] [--db-url <postgres url>]');
    process.exit(values.help ? 0 : 1);
  }
  const dbUrl = values['db-url'] ?? defaultDbUrl();
  const result = await addStaff(dbUrl, email, { password: values.password, remove: values.remove, existing: values.existing });
  const where = dbUrl.replace(/\/\/[^@]*@/, '//');
  if (!result.staff) console.log(`${result.email} is no longer store staff (${where}).`);
  else {
    console.log(`${result.email} is store staff${result.created ? ' (user created)' : ''} in ${where}.`);
    if (result.sessions_ended > 0) console.log(`Every session of the account was signed out (${result.sessions_ended}).`);
    console.log('Sign in to the dashboard with this email and password.');
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
