// The browser tests' rig: Debian's Chromium (driven by playwright-core) beside the API, the provider
// simulators and the delivery workers, for the file's whole run.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startDeliveryRig, type DeliveryRig, type DeliveryRigOptions } from './delivery.js';
import { useRig } from './rig.js';

const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));

export async function launchChromium(): Promise<Browser> {
  if (!chromiumPath) throw new Error("no Chromium found: install Debian's chromium package (.ci/run does)");
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
}

export interface PageRig extends DeliveryRig {
  browser: Browser;
}

/** The file's one rig (delivery and email workers unless `options.roles` says otherwise) and a browser. */
export const usePageRig = (queuePrefix: string, options: DeliveryRigOptions = {}): PageRig =>
  useRig(async () => {
    const delivery = await startDeliveryRig(queuePrefix, options);
    const browser = await launchChromium().catch(async (error: unknown) => {
      await delivery.close();
      throw error;
    });
    return {
      ...delivery,
      browser,
      async close() {
        await browser.close();
        await delivery.close();
      },
    };
  }, 60_000);
