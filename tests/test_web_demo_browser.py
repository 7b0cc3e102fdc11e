"""The web demo in a real browser: Debian's headless Chromium driven by selenium through chromedriver.

The page is served on a free loopback port with small models of every kind (random tiny CLIP); the test
uploads a world image, types a vocabulary, runs segmentation and detection, reads the returned picture's size
and the legend, clicks the overlay for an affinity map, and checks the empty-vocabulary error. A missing
browser fails the test with the command that installs it. ``MMDISTILL_WEB_DEMO_SCREENSHOT=path.png`` also
writes the screenshot there.
"""
import contextlib
import os
import re
import shutil

import pytest
from train_helpers import free_port
from web_demo_models import small_world

from mmdistill.apis.web_demo import WebDemo, display_scale, random_world_models, world_examples
from mmdistill.utils import DownloadForbiddenError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = os.environ.get('MMDISTILL_CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('MMDISTILL_CHROMEDRIVER', '/usr/bin/chromedriver')
INSTALL = 'bash tools/setup_browser.sh (as root: apt-get install -y chromium chromium-driver)'
CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--disable-dev-shm-usage', '--window-size=1400,1200']
TIMEOUT = 60  # seconds for a page element to appear (model loading included)
SHOWN = 96 * display_scale(96, 96)  # the page's pictures of a 96 px world image: 384 px


pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not (os.path.isfile(path) and os.access(path, os.X_OK))]
    if missing:
        pytest.fail(f'the browser test needs Debian\'s headless Chromium; missing: {", ".join(missing)}. '
                    f'Install it with: {INSTALL}', pytrace=False)
    try:
        from selenium import webdriver
    except ImportError:
        pytest.fail('the browser test needs selenium: pip install -r requirements/demo.txt', pytrace=False)
    os.environ.setdefault('SE_OFFLINE', 'true')  # selenium's driver manager downloads nothing
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f'--user-data-dir={tmp_path_factory.mktemp("chromium-profile")}']:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    yield driver
    # chromedriver's shutdown request is a urlopen of localhost, which MMDISTILL_OFFLINE's guard refuses; the
    # browser has quit by then and the driver process is terminated all the same
    with contextlib.suppress(DownloadForbiddenError):
        driver.quit()


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp('web_demo_browser')
    world = small_world(root)
    models = random_world_models(world, str(root / 'models'), repo=REPO)
    # a second tower for the training-free model: another random tiny CLIP
    other = random_world_models(world, str(root / 'other'), 'random tiny CLIP (seed 1)', seed=1, repo=REPO)
    demo = WebDemo(models + [m for m in other if m.kind == 'training_free'], device='cpu')
    examples = world_examples(world)
    port = free_port()
    page = demo.serve(examples, '127.0.0.1', port, prevent_thread_lock=True, quiet=True)
    yield dict(url=f'http://127.0.0.1:{port}/', image=examples[0])
    page.close()


def overlay_src(driver) -> str:
    return driver.execute_script('const i = document.querySelector("#overlay img"); return i ? i.src : "";')


def natural_size(driver, elem_id: str) -> list:
    return driver.execute_script(f'const i = document.querySelector("#{elem_id} img"); '
                                 'return i && i.complete ? [i.naturalWidth, i.naturalHeight] : null;')


def choose_tower(driver, wait, label: str) -> None:
    """Open the tower menu and pick ``label``."""
    from selenium.webdriver.common.by import By
    driver.find_element(By.CSS_SELECTOR, '#tower input').click()
    option = (f'//li[@data-testid="dropdown-option" and (normalize-space(.)="{label}" or '
              f'normalize-space(.)="\u2713 {label}")]')  # the chosen one starts with a check mark
    wait.until(lambda d: d.find_elements(By.XPATH, option))
    driver.find_element(By.XPATH, option).click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '#tower input').get_attribute('value') == label)


def run_and_wait(driver, wait, vocabulary: str, model: str) -> None:
    """Type the vocabulary, choose the model, press Run and wait for a new overlay (or an error)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    box = driver.find_element(By.CSS_SELECTOR, '#vocabulary textarea')
    box.send_keys(Keys.CONTROL, 'a')
    box.send_keys(Keys.BACKSPACE)
    if vocabulary:
        box.send_keys(vocabulary)
    driver.find_element(By.XPATH, f'//*[@id="kind"]//label[contains(normalize-space(.), "{model}")]').click()
    before = overlay_src(driver)
    driver.find_element(By.ID, 'run').click()
    wait.until(lambda d: (overlay_src(d) not in ('', before) and natural_size(d, 'overlay'))
               or 'Error' in d.find_element(By.ID, 'status').text)


def test_segmentation_detection_affinity_and_errors_in_a_browser(browser, served, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    driver, wait = browser, WebDriverWait(browser, TIMEOUT)
    driver.get(served['url'])
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#image input[type=file]'))
    driver.find_element(By.CSS_SELECTOR, '#image input[type=file]').send_keys(served['image'])
    wait.until(lambda d: natural_size(d, 'image'))

    # training-free segmentation with the second tower and NACLIP: the overlay at 4 x the image's size (96 px),
    # every class in the legend
    driver.find_element(By.XPATH, '//*[@id="kind"]//label[contains(normalize-space(.), '
                                  '"training-free segmentation")]').click()
    choose_tower(driver, wait, 'random tiny CLIP (seed 1)')
    driver.find_element(By.XPATH, '//*[@id="readout"]//label[contains(normalize-space(.), "NACLIP")]').click()
    run_and_wait(driver, wait, 'red circle, grass;lawn, sky', 'training-free segmentation')
    status = driver.find_element(By.ID, 'status').text
    assert status.startswith('training-free segmentation with random tiny CLIP (seed 1) (NACLIP): '), status
    assert natural_size(driver, 'overlay') == [SHOWN, SHOWN]
    legend = driver.find_element(By.ID, 'legend').text
    for name in ('red circle', 'grass;lawn', 'sky'):
        assert name in legend
    scores = driver.find_element(By.ID, 'scores').text
    assert 'sky' in scores

    # a click on the overlay: the affinity map of that point, at the image's size
    # a click 20 screen px right of and 30 above the picture's centre: the picture is shown at `shown` screen px
    # per picture px, and has SHOWN / 96 picture px per image px
    overlay = driver.find_element(By.CSS_SELECTOR, '#overlay img')
    rect = driver.execute_script('return document.querySelector("#overlay img").getBoundingClientRect().toJSON();')
    shown = min(rect['width'] / SHOWN, rect['height'] / SHOWN, 1.0)
    ActionChains(driver).move_to_element_with_offset(overlay, 20, -30).click().perform()
    wait.until(lambda d: natural_size(d, 'affinity'))
    assert natural_size(driver, 'affinity') == [SHOWN, SHOWN]
    status = driver.find_element(By.ID, 'status').text
    x, y = map(int, re.search(r'Affinity of the point \((\d+), (\d+)\)', status).groups())
    per_image_px = SHOWN / 96
    assert abs(x - (SHOWN / 2 + 20 / shown) / per_image_px) <= 1, (x, shown)
    assert abs(y - (SHOWN / 2 - 30 / shown) / per_image_px) <= 1, (y, shown)
    screenshot = tmp_path / 'web_demo.png'
    driver.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    if os.environ.get('MMDISTILL_WEB_DEMO_SCREENSHOT'):
        shutil.copy(screenshot, os.environ['MMDISTILL_WEB_DEMO_SCREENSHOT'])

    # F-ViT detection on the same image
    run_and_wait(driver, wait, 'red circle, blue heart, yellow star', 'F-ViT detection')
    assert 'F-ViT detection' in driver.find_element(By.ID, 'status').text
    assert natural_size(driver, 'overlay') == [SHOWN, SHOWN]
    legend = driver.find_element(By.ID, 'legend').text
    for name in ('red circle', 'blue heart', 'yellow star'):
        assert name in legend
    assert 'grass;lawn' not in legend

    # an empty vocabulary: the error in the page, the overlay gone
    run_and_wait(driver, wait, '', 'Cat-Seg segmentation')
    assert 'The vocabulary is empty' in driver.find_element(By.ID, 'status').text
    assert not natural_size(driver, 'overlay')


@pytest.mark.slow
def test_the_main_jobs_models_in_a_browser(browser, tmp_path):
    """The default page (the main job's models, work_dirs/quickstart) segments a world image with CLIPSelf's
    tower and NACLIP's readout; the README's screenshot comes from this test
    (``MMDISTILL_WEB_DEMO_SCREENSHOT=docs/images/web_demo.png``)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from mmdistill.apis.quickstart import load_main_job
    from mmdistill.apis.runs import QuickstartPaths
    from mmdistill.apis.web_demo import quickstart_models
    paths = QuickstartPaths()
    models = quickstart_models(paths.work_dir, paths.world)
    towers, _ = load_main_job()
    clipself = towers['clipself']['label']
    assert any(m.kind == 'training_free' and m.tower == clipself for m in models), 'run bash tools/quickstart.sh'
    examples = world_examples(paths.world)
    page = WebDemo(models, device='cpu').serve(examples, '127.0.0.1', free_port(), prevent_thread_lock=True,
                                               quiet=True)
    driver, wait = browser, WebDriverWait(browser, TIMEOUT)
    try:
        driver.get(page.local_url)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#image input[type=file]'))
        driver.find_element(By.CSS_SELECTOR, '#image input[type=file]').send_keys(os.path.abspath(examples[1]))
        wait.until(lambda d: natural_size(d, 'image'))
        driver.find_element(By.XPATH, '//*[@id="kind"]//label[contains(normalize-space(.), '
                                      '"training-free segmentation")]').click()
        choose_tower(driver, wait, clipself)
        driver.find_element(By.XPATH, '//*[@id="readout"]//label[contains(normalize-space(.), "NACLIP")]').click()
        vocabulary = 'red circle, blue heart, striped square, brick wall, wooden floor, grass;lawn, sky'
        run_and_wait(driver, wait, vocabulary, 'training-free segmentation')
        status = driver.find_element(By.ID, 'status').text
        assert f'with {clipself} (NACLIP)' in status, status
        assert natural_size(driver, 'overlay') == [SHOWN, SHOWN]
        legend = driver.find_element(By.ID, 'legend').text
        assert all(name in legend for name in ('brick wall', 'wooden floor', 'grass;lawn'))
        overlay = driver.find_element(By.CSS_SELECTOR, '#overlay img')
        ActionChains(driver).move_to_element_with_offset(overlay, 30, -40).click().perform()
        wait.until(lambda d: natural_size(d, 'affinity'))
        screenshot = tmp_path / 'web_demo.png'
        driver.save_screenshot(str(screenshot))
        if os.environ.get('MMDISTILL_WEB_DEMO_SCREENSHOT'):
            shutil.copy(screenshot, os.environ['MMDISTILL_WEB_DEMO_SCREENSHOT'])
    finally:
        page.close()
