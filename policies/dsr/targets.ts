// What a data-subject request reaches, service by service: the provisioners' own clients
// for the APIs, and commands in the services' containers for what no API gives an admin
// (a member's own calendars and files, the VPN's peers, the polls' database).
import type Docker from "dockerode";
import type { Dispatcher } from "undici";
import type { CalDavClient } from "../../provisioners/calendars/client.ts";
import type { JitsiClient } from "../../provisioners/jitsi/accounts.ts";
import type { MatrixClient } from "../../provisioners/matrix/client.ts";
import type { NextcloudClient } from "../../provisioners/nextcloud/client.ts";
import { execInContainer, type CommandResult, type ExecOptions } from "../../provisioners/runtime/docker.ts";

/** Runs a command where a service runs. */
export interface Commands {
  /** For messages: "container bastide-vpn-wireguard". */
  readonly where: string;
  run(cmd: readonly string[], input?: string): Promise<CommandResult>;
}

/** A container: commands, and its files as a tar stream (Docker's archive API). */
export interface ContainerAccess extends Commands {
  /** The tar of `path`; undefined when there is no such path. */
  archive(path: string): Promise<NodeJS.ReadableStream | undefined>;
}

export interface NextcloudTarget {
  client: NextcloudClient;
  /** The service account's calendar home: the association's shared calendars. */
  calendars: CalDavClient;
  /** The app container, as `occ` runs there (www-data, /var/www/html). */
  app?: ContainerAccess;
  /** Nextcloud's data folder inside the app container. */
  dataDirectory: string;
}

export interface MatrixTarget {
  client: MatrixClient;
  /** For media downloads, which are bytes (the provisioners' HttpClient reads text). */
  media: { baseUrl: string; dispatcher?: Dispatcher; headers?: Record<string, string> };
}

export interface DsrTargets {
  nextcloud?: NextcloudTarget;
  matrix?: MatrixTarget;
  jitsi?: JitsiClient;
  vpn?: { wireguard: Commands; confPath: string };
  /** The MariaDB container of the polls. */
  polls?: { db: Commands };
}

/** Bounds on what an export copies: past them it stops with a clear message. */
export interface DsrLimits {
  /** Per Nextcloud folder archive (files, trash, versions). */
  fileBytes: number;
  mediaBytes: number;
  mediaCount: number;
  /** Per room. */
  messages: number;
}

export const DEFAULT_LIMITS: DsrLimits = { fileBytes: 2 * 1024 ** 3, mediaBytes: 512 * 1024 ** 2, mediaCount: 2000, messages: 50_000 };

export const NEXTCLOUD_DATA_DIRECTORY = "/var/www/html/data";

/** Commands and archives in `container` through the Docker engine. */
export function containerAccess(docker: Docker, container: string, options: Pick<ExecOptions, "user" | "workingDir" | "timeoutMs"> = {}): ContainerAccess {
  return {
    where: `container ${container}`,
    run: (cmd, input) => execInContainer(docker, container, cmd, { ...options, ...(input === undefined ? {} : { input }) }),
    async archive(path) {
      try {
        return await docker.getContainer(container).getArchive({ path });
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return undefined;
        throw error;
      }
    },
  };
}
