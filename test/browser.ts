/** Headless Chromium for the dashboard's browser tests: one launch, and a page signed in as a user. */
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TEST_CHROMIUM } from './needs.ts';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: TEST_CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A page signed in through the login form; closing it checks that no script on it failed. */
export async function signedInPage(
  browser: Browser,
  baseURL: string,
  user: { id: string; key: string },
  viewport = { width: 1200, height: 900 },
): Promise<{ page: Page; close(): Promise<void> }> {
  const context = await browser.newContext({ baseURL, viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto('/dashboard/login');
  await page.getByLabel('User id').fill(user.id);
  await page.getByLabel('User key').fill(user.key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/dashboard$/);
  return {
    page,
    close: async () => {
      await context.close();
      assert.deepEqual(errors, [], 'no script error on the page');
    },
  };
}
