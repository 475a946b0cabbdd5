/** The HTML documents the server renders; everything else is drawn by public/app.js. */
import { escapeXml } from '../api/wire/render.ts';

const head = (title: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title>
<link rel="stylesheet" href="/dashboard/static/style.css">
<link rel="icon" href="data:,">`;

export function loginPage(error?: string, userid = ''): string {
  return `${head('Sign in · Encodery')}
</head>
<body class="login">
<main id="main">
  <h1>Encodery</h1>
  <form method="post" action="/dashboard/login" class="card"${error ? ' aria-describedby="login-error"' : ''}>
    <h2>Sign in</h2>
    ${error ? `<p id="login-error" class="error" role="alert">${escapeXml(error)}</p>` : ''}
    <label for="userid">User id</label>
    <input id="userid" name="userid" inputmode="numeric" autocomplete="username" required value="${escapeXml(userid)}" ${userid ? '' : 'autofocus'}>
    <label for="userkey">User key</label>
    <input id="userkey" name="userkey" type="password" autocomplete="current-password" required ${userid ? 'autofocus' : ''}>
    <button type="submit">Sign in</button>
  </form>
</main>
</body>
</html>
`;
}

export function shellPage(userId: string, csrf: string): string {
  return `${head('Encodery dashboard')}
<meta name="csrf-token" content="${escapeXml(csrf)}">
<script type="module" src="/dashboard/static/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <nav aria-label="Main">
    <a href="/dashboard" data-nav>Queue</a>
    <a href="/dashboard/media" data-nav>Media</a>
    <a href="/dashboard/add" data-nav>Add media</a>
    <a href="/dashboard/presets" data-nav>Presets</a>
  </nav>
  <form method="post" action="/dashboard/logout" class="logout">
    <input type="hidden" name="csrf" value="${escapeXml(csrf)}">
    <span class="who">User ${escapeXml(userId)}</span>
    <button type="submit">Sign out</button>
  </form>
</header>
<main id="main" tabindex="-1"><p>Loading…</p></main>
<p id="status-line" class="sr-only" role="status" aria-live="polite"></p>
</body>
</html>
`;
}

export function notFoundPage(): string {
  return `${head('Not found · Encodery')}
</head>
<body>
<main id="main">
  <h1>Not found</h1>
  <p>There is no such dashboard page.</p>
  <p><a href="/dashboard">Back to the dashboard</a></p>
</main>
</body>
</html>
`;
}
