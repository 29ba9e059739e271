// The log-in and sign-up page: on success, back to where the user was going.
const form = document.getElementById('login-form');
const notice = document.getElementById('login-notice');
const nameField = document.getElementById('field-display-name');
const submit = document.getElementById('login-submit');
const switchLink = document.getElementById('login-switch');
const switchText = document.getElementById('switch-text');
const password = document.getElementById('login-password');
let signingUp = false;

function next() {
  const target = new URLSearchParams(location.search).get('next') || '/';
  // only paths of this site: never an open redirect
  return target.startsWith('/') && !target.startsWith('//') ? target : '/';
}

function show(mode) {
  signingUp = mode;
  nameField.hidden = !signingUp;
  submit.textContent = signingUp ? 'Create account' : 'Log in';
  switchText.textContent = signingUp ? 'Have an account?' : 'New here?';
  switchLink.textContent = signingUp ? 'Log in' : 'Create an account';
  password.autocomplete = signingUp ? 'new-password' : 'current-password';
  notice.hidden = true;
}

switchLink.addEventListener('click', (event) => {
  event.preventDefault();
  show(!signingUp);
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(form));
  if (!signingUp) delete data.display_name;
  submit.disabled = true;
  try {
    const response = await fetch(signingUp ? '/api/auth/signup' : '/api/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(data),
      credentials: 'same-origin',
    });
    if (response.ok) {
      location.assign(next());
      return;
    }
    const body = await response.json().catch(() => ({}));
    notice.textContent = body.message || `The server answered ${response.status}.`;
    notice.hidden = false;
  } catch (error) {
    notice.textContent = 'The server cannot be reached. Try again in a moment.';
    notice.hidden = false;
  } finally {
    submit.disabled = false;
  }
});

show(new URLSearchParams(location.search).get('signup') === '1');
