import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'database-connection-failed',
  title: 'An OpenStack service cannot reach or lost its MariaDB/MySQL connection',
  references: [
    'oslo.db: oslo_db/sqlalchemy/engines.py (connection retry warning)',
    'MySQL client errors 2003, 2006, 2013',
  ],
  severity: 'warning',
  literals: [
    'SQL connection failed.',
    "Can't connect to MySQL server on",
    'MySQL server has gone away',
    'Lost connection to MySQL server',
  ],
  pattern:
    /(?<problem>SQL connection failed|Can't connect to MySQL server|MySQL server has gone away|Lost connection to MySQL server)(?:\. (?<attemptsLeft>\S+) attempts left| on '?(?<server>[^'\s()]+))?/,
  examples: [
    "2024-05-01 11:00:00.500 7 WARNING oslo_db.sqlalchemy.engines [-] SQL connection failed. 9 attempts left.: oslo_db.exception.DBConnectionError: (pymysql.err.OperationalError) (2003, \"Can't connect to MySQL server on '10.0.0.5' ([Errno 111] Connection refused)\")",
    "2024-05-01 11:00:00.500 7 ERROR nova.servicegroup.drivers.db [-] Unexpected error while reporting service status: oslo_db.exception.DBConnectionError: (pymysql.err.OperationalError) (2013, 'Lost connection to MySQL server during query')",
  ],
  describe: (values) => ({ problem: values.problem ?? null, server: values.server ?? null }),
});
