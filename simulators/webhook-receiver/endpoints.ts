// The receiver's endpoints by name (`/hooks/<name>`): the secrets a request's signature is checked against
// and the faults only that endpoint suffers, so one tenant's endpoint can be down while another's is fine.
import { Webhook } from 'standardwebhooks';
import { ReceiverFaults } from './faults.js';

/** The Standard Webhooks headers a request carried, by lower-case name (a missing one is absent). */
export type SignatureHeaders = Record<string, string>;

export class Endpoints {
  private secrets = new Map<string, Webhook[]>();
  private faultSets = new Map<string, ReceiverFaults>();

  /** Replaces the endpoint's secrets (`whsec_<base64>`); throws, changing nothing, if one is not a valid secret. */
  setSecrets(name: string, secrets: string[]): void {
    const verifiers = secrets.map((secret) => new Webhook(secret));
    this.secrets.set(name, verifiers);
  }

  secretCount(name: string): number {
    return this.secrets.get(name)?.length ?? 0;
  }

  /** True if a registered secret verifies the request (several during a rotation), false if none does, null
   * with no secret registered. The library also refuses a timestamp more than five minutes off. */
  verify(name: string, body: string, headers: SignatureHeaders): boolean | null {
    const verifiers = this.secrets.get(name) ?? [];
    if (verifiers.length === 0) return null;
    return verifiers.some((webhook) => {
      try {
        webhook.verify(body, headers);
        return true;
      } catch {
        return false;
      }
    });
  }

  faults(name: string): ReceiverFaults {
    const known = this.faultSets.get(name);
    if (known) return known;
    const made = new ReceiverFaults();
    this.faultSets.set(name, made);
    return made;
  }

  clear(): void {
    this.secrets.clear();
    this.faultSets.clear();
  }
}
