// Screenshots of the web pages and of the Temporal Web UI, taken with Chromium through playwright-core
// (the same browser and launch as the e2e tests). The key goes into the pages' password field, never a URL.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';

export const chromiumPath = () =>
  [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => p && existsSync(p));

export interface Shot {
  file: string;
  title: string;
  url: string;
}

export interface ShotPlan {
  apiUrl: string;
  apiKey: string;
  mailingId: string;
  temporalUi?: string;
  namespace: string;
  workflowIds: { mailing: string; notifications: string[] };
}

export async function takeScreenshots(dir: string, plan: ShotPlan, log: (line: string) => void): Promise<Shot[]> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("no Chromium found: install Debian's chromium package (or set CHROMIUM_PATH)");
  mkdirSync(dir, { recursive: true });
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  const shots: Shot[] = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    const shoot = async (file: string, title: string, url: string, ready: (p: Page) => Promise<unknown>) => {
      await page.goto(url);
      await ready(page);
      await page.screenshot({ path: join(dir, file), fullPage: false });
      shots.push({ file, title, url: url.replace(plan.apiKey, '[key]') });
      log(`  screenshot ${file}`);
    };
    await shoot('web-index.png', 'Web pages: index', `${plan.apiUrl}/web/`, (p) => p.waitForLoadState('networkidle'));
    // The key is kept in this browser's storage, as a user's "Use" button does.
    await shoot('web-mailings.png', 'Web pages: CSV mailings, the sample list COMPLETED', `${plan.apiUrl}/web/mailings.html`, async (p) => {
      await p.fill('#key', plan.apiKey);
      await p.click('#save-key');
      await p.locator(`tr[data-mailing-id="${plan.mailingId}"] .status:has-text("COMPLETED")`).waitFor({ timeout: 20_000 });
    });
    await shoot('web-accounts.png', 'Web pages: accounts (mailbox sync)', `${plan.apiUrl}/web/accounts.html`, (p) => p.waitForLoadState('networkidle'));
    if (plan.temporalUi) {
      const ns = encodeURIComponent(plan.namespace);
      const ids = [plan.workflowIds.mailing, ...plan.workflowIds.notifications].map((id) => `WorkflowId="${id}"`).join(' OR ');
      await shoot(
        'temporal-workflows.png',
        "Temporal Web UI: this run's mailing and notification workflows",
        `${plan.temporalUi}/namespaces/${ns}/workflows?query=${encodeURIComponent(ids)}`,
        (p) => p.getByText(plan.workflowIds.mailing).first().waitFor({ timeout: 30_000 }),
      );
      await shoot(
        'temporal-mailing.png',
        'Temporal Web UI: the mailing workflow (history)',
        `${plan.temporalUi}/namespaces/${ns}/workflows/${encodeURIComponent(plan.workflowIds.mailing)}`,
        (p) => p.getByText('Completed', { exact: false }).first().waitFor({ timeout: 30_000 }),
      );
    }
  } finally {
    await browser.close();
  }
  return shots;
}
